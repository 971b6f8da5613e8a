// `fastkv`: at a fixed layer (15 of 32 scaled by depth, --pivot), the tokens
// with the highest pooled, head-summed window saliency of that single layer
// (rate --struct-rate, plus the window) continue; later layers run on them
// only. Every layer keeps its own KV budget per KV head by its own saliency.
// [ours] If that layer is a sliding-window layer (Gemma 3), its window rows
// cannot see past the window, so the scores of the last full-attention layer
// before it decide (FastKV was published on models without such layers).
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

  void BeginPrefill(int64_t n_layers) override {
    last_global_.clear();
    trace_ = PropagationTrace{};
    trace_.pivot_rule = options_.pivot >= 0 ? "fixed (--pivot)" : "fixed (depth-scaled)";
  }
  const PropagationTrace* propagation_trace() const override { return &trace_; }

  std::vector<int32_t> PropagationRows(const LayerScores& layer) override {
    const int64_t pivot = PivotLayer(options_, layer.n_layers);
    if (layer.layer > pivot || pivot + 1 >= layer.n_layers) return {};
    const int64_t w = std::min(options_.window, layer.n);
    if (layer.sliding_window <= 0 || last_global_.empty()) {
      last_global_ = TokenScores(layer, w, options_.pool, options_.pool_kernel);
    }
    if (layer.layer != pivot) return {};
    trace_.pivot = pivot;
    trace_.skeleton = SkeletonSize(options_, layer, w);
    return TopEntries(last_global_, trace_.skeleton);
  }

 private:
  std::vector<float> last_global_;  // [N] scores of the last full-attention layer
  PropagationTrace trace_;
};

}  // namespace

std::unique_ptr<KvMethod> CreateFastKvMethod(const MethodOptions& options) {
  return std::make_unique<FastKvMethod>(options);
}

}  // namespace skv
