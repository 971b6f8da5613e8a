// The dispatch cap: names resolve to Highway target bits, and when CI sets
// STRUCTKV_SIMD_MAX the kernels really dispatch at or below it.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif
#include "simd/dispatch.h"

#include <cstdlib>
#include <optional>
#include <string>

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

TEST(DispatchTest, GemmTypeNames) {
  StatusOr<GemmType> bf16 = GemmTypeByName("bf16");
  ASSERT_TRUE(bf16.ok());
  EXPECT_EQ(*bf16, GemmType::kBF16);
  EXPECT_STREQ(GemmTypeName(*bf16), "bf16");
  StatusOr<GemmType> f32 = GemmTypeByName("f32");
  ASSERT_TRUE(f32.ok());
  EXPECT_EQ(*f32, GemmType::kF32);
  StatusOr<GemmType> int8 = GemmTypeByName("int8");
  ASSERT_TRUE(int8.ok());
  EXPECT_EQ(*int8, GemmType::kInt8);
  EXPECT_STREQ(GemmTypeName(*int8), "int8");
  StatusOr<GemmType> bad = GemmTypeByName("fp8");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'fp8'"), std::string::npos);
  EXPECT_NE(bad.status().message().find("bf16"), std::string::npos)
      << bad.status().message();
}

// A bad STRUCTKV_GEMM is an error that names the variable; the test
// restores the variable as it found it.
TEST(DispatchTest, GemmEnvironmentErrorNamesTheVariable) {
  const char* saved = std::getenv(kGemmEnv);
  const std::string saved_value = saved ? saved : "";
  ASSERT_EQ(setenv(kGemmEnv, "BF16", 1), 0);  // names are lower case
  StatusOr<std::optional<GemmType>> bad = GemmTypeFromEnv();
  ASSERT_EQ(setenv(kGemmEnv, "", 1), 0);
  StatusOr<std::optional<GemmType>> empty = GemmTypeFromEnv();
  if (saved) {
    setenv(kGemmEnv, saved_value.c_str(), 1);
  } else {
    unsetenv(kGemmEnv);
  }
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind(kGemmEnv, 0), 0u) << bad.status().message();
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has_value());
}

// Runs in every configuration: a typo in STRUCTKV_GEMM (which the library
// only reports on stderr) fails CI here.
TEST(DispatchTest, GemmEnvironmentIsValid) {
  StatusOr<std::optional<GemmType>> env = GemmTypeFromEnv();
  EXPECT_TRUE(env.ok()) << env.status().message();
}

}  // namespace
}  // namespace skv
