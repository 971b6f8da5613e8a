// `fastkv`: at a fixed layer (15 of 32 scaled by depth, --pivot), the tokens
// with the highest pooled, head-summed window saliency of that single layer
// (rate --struct-rate, plus the window) continue; later layers run on them
// only. Every layer keeps its own KV budget per KV head by its own saliency.
#include <algorithm>
#include <cmath>

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
    const int64_t pivot =
        options_.pivot >= 0 ? options_.pivot : DefaultPivotLayer(layer.n_layers);
    if (layer.layer != pivot || pivot + 1 >= layer.n_layers) return {};
    const int64_t w = std::min(options_.window, layer.n);
    const int64_t keep = std::clamp<int64_t>(
        static_cast<int64_t>(std::floor(options_.struct_rate * layer.prompt_length())), w,
        layer.n);
    return TopEntries(TokenScores(layer, w, options_.pool, options_.pool_kernel),
                      keep);
  }
};

}  // namespace

std::unique_ptr<KvMethod> CreateFastKvMethod(const MethodOptions& options) {
  return std::make_unique<FastKvMethod>(options);
}

}  // namespace skv
