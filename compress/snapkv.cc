// `snapkv`: window saliency (attention of the last `window` queries),
// max-pooled along the sequence, summed over each KV head's query group; each
// KV head keeps its own top entries plus the window.
#include <algorithm>

#include "compress/method.h"
#include "compress/selection.h"

namespace skv {
namespace {

class SnapKvMethod : public KvMethod {
 public:
  using KvMethod::KvMethod;
  const char* name() const override { return "snapkv"; }
  ScoreSource scores_needed() const override { return ScoreSource::kWindow; }
  LayerKeep Select(const LayerScores& layer) const override {
    const int64_t w = std::min(options_.window, layer.n);
    const int64_t keep = options_.budget.Entries(layer.n, w);
    return TopEntriesPerHead(
        KvHeadScores(layer, w, options_.pool, options_.pool_kernel),
        layer.n_kv_heads, layer.n, keep);
  }
};

}  // namespace

std::unique_ptr<KvMethod> CreateSnapKvMethod(const MethodOptions& options) {
  return std::make_unique<SnapKvMethod>(options);
}

}  // namespace skv
