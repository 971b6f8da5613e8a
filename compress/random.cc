// `random`: a seeded uniform sample of the prefix per KV head, plus the
// window (the floor every scored method must beat).
#include <algorithm>
#include <numeric>
#include <random>

#include "compress/method.h"
#include "compress/selection.h"

namespace skv {
namespace {

class RandomMethod : public KvMethod {
 public:
  using KvMethod::KvMethod;
  const char* name() const override { return "random"; }
  ScoreSource scores_needed() const override { return ScoreSource::kNone; }
  LayerKeep Select(const LayerScores& layer) const override {
    const int64_t n = layer.n, w = std::min(options_.window, n);
    const int64_t keep = options_.budget.Entries(n, w);
    // Seeded per layer so layers differ but runs repeat.
    std::mt19937_64 rng(options_.seed * 1000003 + layer.layer);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    std::vector<float> scores(layer.n_kv_heads * n);  // [G][n]
    for (int64_t g = 0; g < layer.n_kv_heads; ++g) {
      for (int64_t j = 0; j < n; ++j) {
        scores[g * n + j] = j >= n - w ? 2.f : u(rng);
      }
    }
    return TopEntriesPerHead(scores, layer.n_kv_heads, n, keep);
  }
};

}  // namespace

std::unique_ptr<KvMethod> CreateRandomMethod(const MethodOptions& options) {
  return std::make_unique<RandomMethod>(options);
}

}  // namespace skv
