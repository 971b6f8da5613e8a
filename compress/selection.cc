#include "compress/selection.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "base/check.h"

namespace skv {

int64_t DefaultPivotLayer(int64_t n_layers) {
  return std::clamp<int64_t>((15 * n_layers + 16) / 32, 0, n_layers - 1);
}

int64_t KvBudget::Entries(int64_t n, int64_t floor) const {
  int64_t want = tokens > 0 ? tokens
                            : static_cast<int64_t>(std::floor(ratio * static_cast<double>(n)));
  want = std::max(want, std::min(n, floor));
  return std::min(want, n);
}

std::vector<float> KvHeadScores(const LayerScores& layer, int64_t window,
                                PoolKind pool, int64_t kernel) {
  SKV_CHECK(layer.scores != nullptr && layer.n_heads % layer.n_kv_heads == 0);
  const int64_t n = layer.n, G = layer.n_kv_heads;
  const int64_t rep = layer.n_heads / G;
  const int64_t prefix = std::max<int64_t>(0, n - window);
  const int64_t half = std::max<int64_t>(0, kernel / 2);
  std::vector<float> out(G * n, 0.f);   // [G][n]
  std::vector<float> pooled(prefix);    // [prefix] one head, pooled
  for (int64_t h = 0; h < layer.n_heads; ++h) {
    const float* s = layer.scores + h * n;
    for (int64_t j = 0; j < prefix; ++j) {
      if (pool == PoolKind::kNone || half == 0) {
        pooled[j] = s[j];
        continue;
      }
      // Same-length pooling over the prefix (edges use the part inside).
      const int64_t lo = std::max<int64_t>(0, j - half);
      const int64_t hi = std::min(prefix - 1, j + half);
      float acc = pool == PoolKind::kMax ? -std::numeric_limits<float>::infinity() : 0.f;
      for (int64_t k = lo; k <= hi; ++k) {
        acc = pool == PoolKind::kMax ? std::max(acc, s[k]) : acc + s[k];
      }
      pooled[j] = pool == PoolKind::kMax ? acc : acc / static_cast<float>(hi - lo + 1);
    }
    float* dst = out.data() + (h / rep) * n;
    for (int64_t j = 0; j < prefix; ++j) dst[j] += pooled[j];
  }
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t j = prefix; j < n; ++j) {
      out[g * n + j] = std::numeric_limits<float>::infinity();
    }
  }
  return out;
}

LayerKeep TopEntriesPerHead(const std::vector<float>& scores, int64_t n_kv_heads,
                            int64_t n, int64_t keep) {
  SKV_CHECK(keep >= 0 && keep <= n);
  SKV_CHECK(static_cast<int64_t>(scores.size()) == n_kv_heads * n);
  LayerKeep result(n_kv_heads);
  std::vector<int32_t> order(n);  // [n] candidate indices of one head
  for (int64_t g = 0; g < n_kv_heads; ++g) {
    const float* s = scores.data() + g * n;
    std::iota(order.begin(), order.end(), 0);
    // Higher score first; ties go to the lower index (deterministic).
    std::partial_sort(order.begin(), order.begin() + keep, order.end(),
                      [s](int32_t a, int32_t b) {
                        return s[a] > s[b] || (s[a] == s[b] && a < b);
                      });
    result[g].assign(order.begin(), order.begin() + keep);
    std::sort(result[g].begin(), result[g].end());
  }
  return result;
}

std::vector<float> TokenScores(const LayerScores& layer, int64_t window,
                               PoolKind pool, int64_t kernel) {
  const std::vector<float> kv = KvHeadScores(layer, window, pool, kernel);
  std::vector<float> out(layer.n, 0.f);  // [n]
  const float inv_w = 1.f / static_cast<float>(std::max<int64_t>(1, window));
  for (int64_t g = 0; g < layer.n_kv_heads; ++g) {
    for (int64_t j = 0; j < layer.n; ++j) out[j] += kv[g * layer.n + j] * inv_w;
  }
  return out;
}

LayerKeep SelectByWindowSaliency(const LayerScores& layer,
                                 const MethodOptions& options) {
  const int64_t w = std::min(options.window, layer.n);
  const int64_t keep =
      std::min(layer.n, options.budget.Entries(layer.prompt_length(), w));
  return TopEntriesPerHead(KvHeadScores(layer, w, options.pool, options.pool_kernel),
                           layer.n_kv_heads, layer.n, keep);
}

int64_t PivotLayer(const MethodOptions& options, int64_t n_layers) {
  return options.pivot >= 0 ? options.pivot : DefaultPivotLayer(n_layers);
}

int64_t SkeletonSize(const MethodOptions& options, const LayerScores& layer,
                     int64_t window) {
  const auto wanted = static_cast<int64_t>(
      std::floor(options.struct_rate * static_cast<double>(layer.prompt_length())));
  return std::clamp<int64_t>(wanted, window, layer.n);
}

std::vector<int32_t> TopEntries(const std::vector<float>& scores, int64_t keep) {
  return TopEntriesPerHead(scores, 1, static_cast<int64_t>(scores.size()), keep)[0];
}

LayerKeep SameForAllHeads(const std::vector<int32_t>& entries, int64_t n_kv_heads) {
  return LayerKeep(n_kv_heads, entries);
}

}  // namespace skv
