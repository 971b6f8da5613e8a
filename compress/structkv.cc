// `structkv` (arXiv 2604.06746): global in-degree centrality accumulated
// across layers, C <- lambda * C + S_l with S_l the layer's pooled,
// head-summed window saliency, finds the tokens that act as hubs even when
// they look dormant at one layer. At the pivot layer the residual stream is
// cut to the skeleton topk(C) U window (rate --struct-rate); later layers run
// on it only. Decoupled from that, every layer keeps floor(N * R_KV) entries
// per KV head by its own local saliency. Pivot: fixed (--pivot) or FastKV's
// depth-scaled layer; online detection from entropy, sparsity and variance
// comes next.
#include <algorithm>
#include <limits>

#include "compress/method.h"
#include "compress/selection.h"

namespace skv {
namespace {

class StructKvMethod : public KvMethod {
 public:
  using KvMethod::KvMethod;
  const char* name() const override { return "structkv"; }
  ScoreSource scores_needed() const override { return ScoreSource::kWindow; }
  bool propagates() const override { return true; }

  LayerKeep Select(const LayerScores& layer) const override {
    return SelectByWindowSaliency(layer, options_);
  }

  void BeginPrefill(int64_t n_layers) override { centrality_.clear(); }

  std::vector<int32_t> PropagationRows(const LayerScores& layer) override {
    const int64_t pivot = PivotLayer(options_, layer.n_layers);
    if (layer.layer > pivot || pivot + 1 >= layer.n_layers) return {};
    const int64_t w = std::min(options_.window, layer.n);
    const std::vector<float> s =
        TokenScores(layer, w, options_.pool, options_.pool_kernel);
    if (centrality_.empty()) centrality_.assign(layer.n, 0.f);
    const float lambda = static_cast<float>(options_.lambda);
    // Window entries score +inf (always kept); they stay out of the sums so
    // that lambda = 0 does not turn 0 * inf into NaN.
    for (int64_t j = 0; j < layer.n - w; ++j) {
      centrality_[j] = lambda * centrality_[j] + s[j];
    }
    if (layer.layer < pivot) return {};
    const int64_t keep = SkeletonSize(options_, layer, w);
    std::vector<float> ranked = centrality_;  // [n]
    std::fill(ranked.end() - w, ranked.end(), std::numeric_limits<float>::infinity());
    return TopEntries(ranked, keep);
  }

 private:
  std::vector<float> centrality_;  // [N] C accumulated up to the pivot
};

}  // namespace

std::unique_ptr<KvMethod> CreateStructKvMethod(const MethodOptions& options) {
  return std::make_unique<StructKvMethod>(options);
}

}  // namespace skv
