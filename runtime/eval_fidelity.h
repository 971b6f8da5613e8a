// Fidelity against the uncompressed cache on identical prompts (shared
// evaluation.md): a held-out text is cut into a prefix of `length` tokens,
// which each method compresses, and a continuation that is then teacher-
// forced through both caches. Per method x budget x length x sample:
//   KL(P_full || P_comp) of the next-token distributions (mean, p99, max),
//   top-1 agreement, flips (full right -> compressed wrong and the reverse),
//   the perplexity ratio on the continuation, and each layer's attention-
//   output relative error ||a_comp - a_full|| / ||a_full|| over its rows.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "models/model.h"
#include "runtime/eval_runner.h"

namespace skv {

struct FidelityMetrics {
  int64_t positions = 0;   // continuation positions compared
  double kl_mean = 0, kl_p99 = 0, kl_max = 0;
  double top1_agreement = 0;   // fraction of positions with the same argmax
  int64_t flips_lost = 0;      // full predicted the next token, compressed did not
  int64_t flips_gained = 0;    // the reverse
  double nll_full = 0, nll_comp = 0;  // mean over the scored positions
  double ppl_ratio = 1;        // exp(nll_comp - nll_full)
};

// Compares two logit matrices [positions][n_vocab] row by row; targets[i] is
// the token that follows position i (-1: none, not scored for NLL/flips).
FidelityMetrics CompareLogits(std::span<const float> full, std::span<const float> comp,
                              int64_t n_vocab, std::span<const int32_t> targets);

// Relative Frobenius error of `comp` against `full` (same shape); 0 when
// both are zero.
double RelativeError(std::span<const float> full, std::span<const float> comp);

// Runs every (length, sample, method, budget) whose key is not in
// DIR/fidelity.jsonl yet, on the prose haystack, with `continuation` teacher-
// forced tokens. Writes DIR/fidelity_summary.csv.
Status RunFidelity(const Model& model, const EvalConfig& config, int64_t continuation);

}  // namespace skv
