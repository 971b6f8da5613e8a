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
    return SelectByWindowSaliency(layer, options_);
  }
};

}  // namespace

std::unique_ptr<KvMethod> CreateSnapKvMethod(const MethodOptions& options) {
  return std::make_unique<SnapKvMethod>(options);
}

}  // namespace skv
