#include "runtime/generate.h"

#include <chrono>

namespace skv {
namespace {
double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
      .count();
}
}  // namespace

StatusOr<GenerationStats> ContinueGeneration(
    Session& session, Sampler& sampler, const std::vector<int32_t>& tokens,
    int64_t n_predict, const std::function<bool(int32_t)>& on_token,
    bool stop_at_eog) {
  if (tokens.empty()) return Status::Error("the prompt has no tokens");
  GenerationStats stats;
  stats.prompt_tokens = static_cast<int64_t>(tokens.size());
  std::vector<float> logits;  // [n_vocab]
  auto t0 = std::chrono::steady_clock::now();
  SKV_RETURN_IF_ERROR(session.Evaluate(tokens, /*all_logits=*/false, &logits));
  stats.prefill_seconds = Since(t0);
  const Tokenizer& tok = session.model().tokenizer();
  t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n_predict; ++i) {
    const int32_t id = sampler.Sample(logits);
    if (stop_at_eog && tok.IsEndOfGeneration(id)) {
      stats.stopped_at_eog = true;
      break;
    }
    ++stats.generated_tokens;
    if (on_token && !on_token(id)) break;
    if (i + 1 == n_predict || session.n_past() >= session.n_ctx()) break;
    const int32_t next[1] = {id};
    SKV_RETURN_IF_ERROR(session.Evaluate(next, /*all_logits=*/false, &logits));
  }
  stats.decode_seconds = Since(t0);
  return stats;
}

StatusOr<GenerationStats> Generate(Session& session, Sampler& sampler,
                                   const std::vector<int32_t>& prompt,
                                   int64_t n_predict,
                                   const std::function<bool(int32_t)>& on_token) {
  session.Reset();
  return ContinueGeneration(session, sampler, prompt, n_predict, on_token);
}

}  // namespace skv
