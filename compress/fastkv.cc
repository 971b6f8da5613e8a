// `fastkv`: at a fixed layer (15 of 32 scaled by depth, --pivot), the tokens
// with the highest pooled, head-summed window saliency of that single layer
// (rate --struct-rate, plus the window) continue; later layers run on them
// only. Every layer keeps its own KV budget per KV head by its own saliency.
#include <algorithm>

#include "compress/method.h"
#include "compress/selection.h"

namespace skv {
namespace {

class FastKvMethod : public KvMethod {
 public:
  using KvMethod::KvMethod;
  const char* name() const override { return "fastkv"; }
  ScoreSource scores_needed() const override { return ScoreSource::kWindow; }
  bool propagates() const override { return true; }

  LayerKeep Select(const LayerScores& layer) const override {
    return SelectByWindowSaliency(layer, options_);
  }

  std::vector<int32_t> PropagationRows(const LayerScores& layer) override {
    const int64_t pivot = PivotLayer(options_, layer.n_layers);
    if (layer.layer != pivot || pivot + 1 >= layer.n_layers) return {};
    const int64_t w = std::min(options_.window, layer.n);
    return TopEntries(TokenScores(layer, w, options_.pool, options_.pool_kernel),
                      SkeletonSize(options_, layer, w));
  }
};

}  // namespace

std::unique_ptr<KvMethod> CreateFastKvMethod(const MethodOptions& options) {
  return std::make_unique<FastKvMethod>(options);
}

}  // namespace skv
