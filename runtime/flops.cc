#include "runtime/flops.h"

#include <numeric>

namespace skv {

PrefillFlops LayerPrefillFlops(const ModelConfig& c, int64_t layer,
                               const int32_t* positions, int64_t n) {
  PrefillFlops f;
  const double att_dim = static_cast<double>(c.n_heads * c.head_dim_v);
  const double per_token =
      static_cast<double>(c.n_embd) * (c.q_dim() + c.kv_dim() + c.v_dim()) +
      att_dim * c.n_embd + 3.0 * c.n_embd * c.n_ff;
  f.linear = 2.0 * per_token * static_cast<double>(n);
  // Query i sees keys i' <= i with positions inside its window.
  const int64_t W = c.layers[layer].sliding_window;
  double visible = 0;
  int64_t lo = 0;
  for (int64_t i = 0; i < n; ++i) {
    while (W > 0 && positions[i] - positions[lo] >= W) ++lo;
    visible += static_cast<double>(i - lo + 1);
  }
  f.attention = 2.0 * visible * c.n_heads * (c.head_dim + c.head_dim_v);
  return f;
}

namespace {
double HeadFlops(const ModelConfig& c) {
  return 2.0 * static_cast<double>(c.n_embd) * static_cast<double>(c.n_vocab);
}
}  // namespace

PrefillFlops CountPrefillFlops(const ModelConfig& c, const KvStore& kv,
                               int64_t n_layers) {
  PrefillFlops f;
  for (int64_t l = 0; l < n_layers; ++l) {
    // Before compaction every head holds the same computed tokens.
    const std::vector<int32_t> pos = kv.layer(l).Positions(0);
    f += LayerPrefillFlops(c, l, pos.data(), static_cast<int64_t>(pos.size()));
  }
  f.linear += HeadFlops(c);
  return f;
}

PrefillFlops FullPrefillFlops(const ModelConfig& c, int64_t n) {
  std::vector<int32_t> pos(n);  // [n]
  std::iota(pos.begin(), pos.end(), 0);
  PrefillFlops f;
  for (int64_t l = 0; l < c.n_layers; ++l) f += LayerPrefillFlops(c, l, pos.data(), n);
  f.linear += HeadFlops(c);
  return f;
}

}  // namespace skv
