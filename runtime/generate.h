// Prompt prefill followed by token-by-token decoding, with timings.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "base/status.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

namespace skv {

struct GenerationStats {
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
  bool stopped_at_eog = false;
};

// Evaluates `tokens` at the session's current position (after a compressed
// prefill, say), then samples up to n_predict tokens like Generate.
// stop_at_eog = false generates through end-of-generation tokens (benchmarks
// that need a fixed decode length).
StatusOr<GenerationStats> ContinueGeneration(
    Session& session, Sampler& sampler, const std::vector<int32_t>& tokens,
    int64_t n_predict, const std::function<bool(int32_t)>& on_token,
    bool stop_at_eog = true);

// Prefills `prompt` into a fresh session, then samples up to n_predict tokens
// (stopping at end-of-generation tokens); on_token(id) streams each one and
// returns false to stop (e.g. at a caller's stop string).
// Decode positions continue at prompt length + t.
StatusOr<GenerationStats> Generate(Session& session, Sampler& sampler,
                                   const std::vector<int32_t>& prompt,
                                   int64_t n_predict,
                                   const std::function<bool(int32_t)>& on_token);

}  // namespace skv
