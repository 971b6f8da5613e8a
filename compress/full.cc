// `full`: keeps every entry (the uncompressed baseline).
#include <numeric>

#include "compress/method.h"
#include "compress/selection.h"

namespace skv {
namespace {

class FullMethod : public KvMethod {
 public:
  using KvMethod::KvMethod;
  const char* name() const override { return "full"; }
  ScoreSource scores_needed() const override { return ScoreSource::kNone; }
  LayerKeep Select(const LayerScores& layer) const override {
    std::vector<int32_t> all(layer.n);
    std::iota(all.begin(), all.end(), 0);
    return SameForAllHeads(all, layer.n_kv_heads);
  }
};

}  // namespace

std::unique_ptr<KvMethod> CreateFullMethod(const MethodOptions& options) {
  return std::make_unique<FullMethod>(options);
}

}  // namespace skv
