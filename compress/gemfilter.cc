// `gemfilter` (Shi et al. 2024, "Discovering the Gems in Early Layers"): run
// the prompt through the first layers only (13 of 32, scaled by depth), score
// every token by the last query's raw attention logits summed over the query
// heads, average-pool them (kernel 5), keep the top tokens, and prefill only
// those through the whole model with positions renumbered 0..k-1. Compute
// and memory budgets are coupled: the same k tokens are kept in every layer.
//
// [ours] The observation window is kept like in every other method here, so
// that a question at the end of the prompt survives. On models with
// sliding-window layers the filter layer moves to the first full-attention
// layer at or after the scaled one (a local layer's last query sees only its
// window).
#include <algorithm>
#include <cmath>
#include <limits>

#include "compress/method.h"
#include "compress/selection.h"

namespace skv {
namespace {

constexpr int64_t kGemFilterPool = 5;

class GemFilterMethod : public KvMethod {
 public:
  using KvMethod::KvMethod;
  const char* name() const override { return "gemfilter"; }
  ScoreSource scores_needed() const override { return ScoreSource::kNone; }

  int64_t FilterLayer(const std::vector<int64_t>& sliding_windows) const override {
    const int64_t L = static_cast<int64_t>(sliding_windows.size());
    int64_t r = options_.pivot >= 0 ? options_.pivot
                                    : std::clamp<int64_t>((13 * L + 16) / 32, 0, L - 1);
    r = std::min(r, L - 1);
    for (int64_t l = r; l < L; ++l) {
      if (sliding_windows[l] <= 0) return l;
    }
    return r;
  }

  std::vector<int32_t> FilterTokens(const LayerScores& layer) const override {
    const int64_t n = layer.n, H = layer.n_heads;
    const int64_t w = std::min(options_.window, n);
    // Sum of the heads' raw logits; keys a head cannot see count as its
    // lowest visible logit, so that one masked head does not veto a token.
    std::vector<double> sum(n, 0.0);  // [n]
    for (int64_t h = 0; h < H; ++h) {
      const float* s = layer.last_logits + h * n;
      float lowest = std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < n; ++j) {
        if (std::isfinite(s[j])) lowest = std::min(lowest, s[j]);
      }
      if (!std::isfinite(lowest)) continue;
      for (int64_t j = 0; j < n; ++j) sum[j] += std::isfinite(s[j]) ? s[j] : lowest;
    }
    // Average pool, kernel 5, same length (edges average what exists).
    std::vector<float> pooled(n);  // [n]
    const int64_t half = kGemFilterPool / 2;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t a = std::max<int64_t>(0, j - half), b = std::min(n - 1, j + half);
      double acc = 0;
      for (int64_t i = a; i <= b; ++i) acc += sum[i];
      pooled[j] = static_cast<float>(acc / static_cast<double>(b - a + 1));
    }
    std::fill(pooled.end() - w, pooled.end(), std::numeric_limits<float>::infinity());
    return TopEntries(pooled, options_.budget.Entries(n, w));
  }

  // After filtering, the cache holds exactly the kept tokens.
  LayerKeep Select(const LayerScores& layer) const override {
    std::vector<int32_t> all(layer.n);
    for (int64_t j = 0; j < layer.n; ++j) all[j] = static_cast<int32_t>(j);
    return SameForAllHeads(all, layer.n_kv_heads);
  }
};

}  // namespace

std::unique_ptr<KvMethod> CreateGemFilterMethod(const MethodOptions& options) {
  return std::make_unique<GemFilterMethod>(options);
}

}  // namespace skv
