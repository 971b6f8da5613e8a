// Perplexity with llama.cpp's method: the token stream is cut into
// non-overlapping chunks of n_ctx tokens (the first token of each chunk
// replaced by BOS when the model adds one), each chunk is evaluated from an
// empty cache, and only the second half of each chunk is scored.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "base/status.h"
#include "runtime/session.h"

namespace skv {

struct PerplexityResult {
  int64_t chunks = 0;
  int64_t scored_tokens = 0;
  double ppl = 0;
  double ppl_stderr = 0;  // standard error of the PPL estimate
  double mean_nll = 0;
  std::vector<double> chunk_ppl;  // [chunks] running estimate after each chunk
};

// `on_chunk(i, running_ppl)` is called after each chunk (progress output).
// Error when fewer than 2 * n_ctx tokens are given (names -c).
StatusOr<PerplexityResult> ComputePerplexity(
    Session& session, const std::vector<int32_t>& tokens, int64_t n_chunks_max,
    const std::function<void(int64_t, double)>& on_chunk);

}  // namespace skv
