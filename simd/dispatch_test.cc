// The dispatch cap: names resolve to Highway target bits, and when CI sets
// STRUCTKV_SIMD_MAX the kernels really dispatch at or below it.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif
#include "simd/dispatch.h"

#include <cstdlib>

#include "gtest/gtest.h"
#include "hwy/targets.h"
#include "simd/quant.h"
#include "simd/quant_dot.h"

namespace skv {
namespace {

TEST(DispatchTest, NamesResolveToTargetBits) {
  StatusOr<int64_t> avx2 = SimdTargetByName("AVX2");
  ASSERT_TRUE(avx2.ok());
  EXPECT_EQ(*avx2, HWY_AVX2);
  StatusOr<int64_t> bad = SimdTargetByName("AVX9");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("AVX9"), std::string::npos);
  EXPECT_NE(bad.status().message().find("AVX2"), std::string::npos)
      << bad.status().message();
}

// Runs in every configuration; with STRUCTKV_SIMD_MAX unset it only checks
// that the kernels name a target this build has.
TEST(DispatchTest, EnvironmentCapIsApplied) {
  const char* cap_name = std::getenv(kSimdMaxEnv);
  StatusOr<int64_t> active = SimdTargetByName(ActiveSimdTarget());
  StatusOr<int64_t> integer = SimdTargetByName(IntegerDotTarget());
  ASSERT_TRUE(active.ok()) << ActiveSimdTarget();
  ASSERT_TRUE(integer.ok()) << IntegerDotTarget();
  if (cap_name == nullptr || *cap_name == '\0') GTEST_SKIP() << kSimdMaxEnv << " unset";
  StatusOr<int64_t> cap = SimdTargetByName(cap_name);
  ASSERT_TRUE(cap.ok()) << cap.status().message();
  // A better target has a lower bit.
  EXPECT_EQ(hwy::SupportedTargets() & (*cap - 1), 0) << cap_name;
  EXPECT_GE(*active, *cap) << ActiveSimdTarget() << " is above " << cap_name;
  EXPECT_GE(*integer, *cap) << IntegerDotTarget() << " is above " << cap_name;
}

}  // namespace
}  // namespace skv
