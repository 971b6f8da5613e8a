// `pyramidkv`: SnapKV's scores with per-layer budgets that decrease linearly
// with depth around the same mean (beta = 20, as in the PyramidKV paper's
// code): layer 0 keeps the most, the last layer the least.
#include <algorithm>
#include <cmath>

#include "compress/method.h"
#include "compress/selection.h"

namespace skv {
namespace {

constexpr double kBeta = 20.0;

class PyramidKvMethod : public KvMethod {
 public:
  using KvMethod::KvMethod;
  const char* name() const override { return "pyramidkv"; }
  ScoreSource scores_needed() const override { return ScoreSource::kWindow; }
  LayerKeep Select(const LayerScores& layer) const override {
    const int64_t w = std::min(options_.window, layer.n);
    const int64_t mean = options_.budget.Entries(layer.n, w);
    // Budgets beyond the window: min = mean / beta, max = 2 mean - min, a
    // straight line from max (layer 0) to min (last layer).
    // No depth to spread over, or nothing to drop: every layer keeps the mean
    // (a linear profile around a full budget would clip at n and lose some).
    if (layer.n_layers <= 1 || mean >= layer.n) {
      return TopEntriesPerHead(
          KvHeadScores(layer, w, options_.pool, options_.pool_kernel),
          layer.n_kv_heads, layer.n, mean);
    }
    const double avg = static_cast<double>(mean - w);
    const double lo = avg / kBeta, hi = 2.0 * avg - lo;
    const double t = static_cast<double>(layer.layer) / (layer.n_layers - 1);
    const int64_t keep = std::clamp<int64_t>(
        w + static_cast<int64_t>(std::llround(hi - (hi - lo) * t)), w, layer.n);
    return TopEntriesPerHead(
        KvHeadScores(layer, w, options_.pool, options_.pool_kernel),
        layer.n_kv_heads, layer.n, keep);
  }
};

}  // namespace

std::unique_ptr<KvMethod> CreatePyramidKvMethod(const MethodOptions& options) {
  return std::make_unique<PyramidKvMethod>(options);
}

}  // namespace skv
