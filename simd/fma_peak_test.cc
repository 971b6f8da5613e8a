// The FMA peak probe's kernel against its scalar reference on every target,
// and the measurement's bookkeeping (not its speed: benchmarks measure that).
#include "simd/fma_peak.h"

#include <cmath>

#include "base/parallel.h"
#include "gtest/gtest.h"
#include "simd/quant.h"
#include "simd/target_test_util.h"

namespace skv {
namespace {

TEST(FmaChainsTest, MatchesReferenceOnEveryTarget) {
  // 1000 steps of x -> 0.999 x + 0.001 leave chain c at 1 + c * 0.368:
  // twelve different values, so a dropped or repeated chain shows.
  constexpr float kA = 0.999f, kB = 0.001f;
  constexpr int64_t kSteps = 1000;
  ForEachTarget([&](int64_t) {
    int64_t flops = 0;
    const float got = FmaChains(kA, kB, kSteps, &flops);
    ASSERT_EQ(flops % (2 * kFmaChains * kSteps), 0);
    const int64_t lanes = flops / (2 * kFmaChains * kSteps);
    ASSERT_GE(lanes, 1);
    EXPECT_EQ(lanes & (lanes - 1), 0) << lanes;  // a power of two
    const float want = FmaChainsRef(kA, kB, kSteps, lanes);
    // Targets without FMA round the product and the sum separately.
    EXPECT_NEAR(got, want, 1e-4f * std::fabs(want)) << lanes << " lanes";
  });
}

TEST(FmaChainsTest, ZeroStepsSumTheStartingValues) {
  int64_t flops = -1;
  const float got = FmaChains(0.5f, 0.25f, 0, &flops);
  EXPECT_EQ(flops, 0);
  // Chains start at 1..12 in every lane: 78 per lane.
  const float lanes = got / 78.f;
  EXPECT_EQ(lanes, std::round(lanes));
  EXPECT_GE(lanes, 1.f);
}

TEST(FmaPeakTest, EveryThreadRunsAndTheRateIsFinite) {
  const FmaPeakResult peak = MeasureFmaPeak(1);
  EXPECT_EQ(peak.threads, MaxThreads());
  EXPECT_GT(peak.gflop_per_s, 0.0);
  EXPECT_TRUE(std::isfinite(peak.gflop_per_s));
  EXPECT_EQ(peak.target, ActiveSimdTarget());
}

}  // namespace
}  // namespace skv
