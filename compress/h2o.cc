// `h2o`: heavy hitters by accumulated attention (the column sums over every
// query of the prompt) plus the recent window; no pooling.
#include <algorithm>

#include "compress/method.h"
#include "compress/selection.h"

namespace skv {
namespace {

class H2oMethod : public KvMethod {
 public:
  using KvMethod::KvMethod;
  const char* name() const override { return "h2o"; }
  ScoreSource scores_needed() const override { return ScoreSource::kAllQueries; }
  LayerKeep Select(const LayerScores& layer) const override {
    const int64_t w = std::min(options_.window, layer.n);
    const int64_t keep = options_.budget.Entries(layer.n, w);
    return TopEntriesPerHead(KvHeadScores(layer, w, PoolKind::kNone, 1),
                             layer.n_kv_heads, layer.n, keep);
  }
};

}  // namespace

std::unique_ptr<KvMethod> CreateH2oMethod(const MethodOptions& options) {
  return std::make_unique<H2oMethod>(options);
}

}  // namespace skv
