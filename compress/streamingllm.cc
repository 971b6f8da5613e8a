// `streamingllm`: 4 attention-sink tokens plus the most recent entries.
#include <algorithm>

#include "compress/method.h"
#include "compress/selection.h"

namespace skv {
namespace {

constexpr int64_t kSinks = 4;

class StreamingLlmMethod : public KvMethod {
 public:
  using KvMethod::KvMethod;
  const char* name() const override { return "streamingllm"; }
  ScoreSource scores_needed() const override { return ScoreSource::kNone; }
  LayerKeep Select(const LayerScores& layer) const override {
    const int64_t n = layer.n;
    const int64_t keep = options_.budget.Entries(n, std::min(n, options_.window));
    const int64_t sinks = std::min(kSinks, keep);
    std::vector<int32_t> entries;
    for (int64_t j = 0; j < sinks; ++j) entries.push_back(static_cast<int32_t>(j));
    for (int64_t j = std::max(sinks, n - (keep - sinks)); j < n; ++j) {
      entries.push_back(static_cast<int32_t>(j));
    }
    return SameForAllHeads(entries, layer.n_kv_heads);
  }
};

}  // namespace

std::unique_ptr<KvMethod> CreateStreamingLlmMethod(const MethodOptions& options) {
  return std::make_unique<StreamingLlmMethod>(options);
}

}  // namespace skv
