#include "runtime/eval_fidelity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace skv {
namespace {

TEST(EvalFidelity, IdenticalLogitsAgreeCompletely) {
  const std::vector<float> a = {1, 2, 3, 0, 5, 1};  // [2][3]
  const FidelityMetrics m = CompareLogits(a, a, 3, std::vector<int32_t>{2, -1});
  EXPECT_EQ(m.positions, 2);
  EXPECT_NEAR(m.kl_mean, 0.0, 1e-12);
  EXPECT_NEAR(m.kl_max, 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(m.top1_agreement, 1.0);
  EXPECT_EQ(m.flips_lost + m.flips_gained, 0);
  EXPECT_DOUBLE_EQ(m.ppl_ratio, 1.0);
}

TEST(EvalFidelity, KlTopOneFlipsAndPerplexityByHand) {
  // Row 0: full p = (0.5, 0.5) from logits (0, 0); compressed (log 3, 0) ->
  // q = (0.75, 0.25). KL(p||q) = 0.5 log(0.5/0.75) + 0.5 log(0.5/0.25).
  // Row 1: full prefers token 1 (the target), compressed token 0: a lost flip.
  const std::vector<float> full = {0.f, 0.f, 0.f, 2.f};
  const std::vector<float> comp = {static_cast<float>(std::log(3.0)), 0.f, 2.f, 0.f};
  const std::vector<int32_t> targets = {0, 1};
  const FidelityMetrics m = CompareLogits(full, comp, 2, targets);
  const double kl0 = 0.5 * std::log(0.5 / 0.75) + 0.5 * std::log(0.5 / 0.25);
  const double pf = std::exp(2.0) / (1 + std::exp(2.0));  // full's p(target) at row 1
  const double kl1 = pf * std::log(pf / (1 - pf)) + (1 - pf) * std::log((1 - pf) / pf);
  EXPECT_NEAR(m.kl_mean, (kl0 + kl1) / 2, 1e-6);
  EXPECT_NEAR(m.kl_max, std::max(kl0, kl1), 1e-6);
  EXPECT_NEAR(m.kl_p99, std::max(kl0, kl1), 1e-6);  // nearest rank of 2 values
  // Row 0 ties in full (argmax 0) and compressed picks 0: agree; row 1 not.
  EXPECT_DOUBLE_EQ(m.top1_agreement, 0.5);
  EXPECT_EQ(m.flips_lost, 1);
  EXPECT_EQ(m.flips_gained, 0);
  const double nll_f = (-std::log(0.5) - std::log(pf)) / 2;
  const double nll_c = (-std::log(0.75) - std::log(1 - pf)) / 2;
  EXPECT_NEAR(m.nll_full, nll_f, 1e-6);
  EXPECT_NEAR(m.nll_comp, nll_c, 1e-6);
  EXPECT_NEAR(m.ppl_ratio, std::exp(nll_c - nll_f), 1e-6);
}

TEST(EvalFidelity, RelativeError) {
  EXPECT_DOUBLE_EQ(RelativeError(std::vector<float>{3, 4}, std::vector<float>{3, 4}), 0.0);
  EXPECT_NEAR(RelativeError(std::vector<float>{3, 4}, std::vector<float>{0, 4}), 3.0 / 5.0,
              1e-12);
  EXPECT_DOUBLE_EQ(RelativeError(std::vector<float>{0, 0}, std::vector<float>{0, 0}), 0.0);
}

}  // namespace
}  // namespace skv
