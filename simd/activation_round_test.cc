#include "simd/activation_round.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "simd/quant.h"
#include "simd/quant_internal.h"
#include "simd/target_test_util.h"

namespace skv {
namespace {

TEST(ActivationRound, TypesFollowGgmlVecDotTypes) {
  EXPECT_EQ(ActivationType(GgmlType::kQ4_0), GgmlType::kQ8_0);
  EXPECT_EQ(ActivationType(GgmlType::kQ5_0), GgmlType::kQ8_0);
  EXPECT_EQ(ActivationType(GgmlType::kQ8_0), GgmlType::kQ8_0);
  EXPECT_EQ(ActivationType(GgmlType::kQ4_1), GgmlType::kQ8_1);
  EXPECT_EQ(ActivationType(GgmlType::kQ5_1), GgmlType::kQ8_1);
  EXPECT_EQ(ActivationType(GgmlType::kQ4_K), GgmlType::kQ8_K);
  EXPECT_EQ(ActivationType(GgmlType::kQ6_K), GgmlType::kQ8_K);
  EXPECT_EQ(ActivationType(GgmlType::kF16), GgmlType::kF16);
  EXPECT_EQ(ActivationType(GgmlType::kF32), GgmlType::kF32);
}

// Q8_0 rounding: every output is d * q with |q| <= 127, d = f16(amax / 127),
// the block maximum maps to +-127, and the error is at most half a step
// (plus the f16 rounding of d).
TEST(ActivationRound, Q8_0BlocksLieOnTheirGrid) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 2.f);
  std::vector<float> x(32 * 9), y(32 * 9);  // [blocks * 32]
  for (float& v : x) v = normal(rng);
  for (int j = 0; j < 32; ++j) x[32 * 4 + j] = 0.f;  // an all-zero block
  RoundActivations(GgmlType::kQ4_0, x.data(), y.data(), x.size());
  for (int b = 0; b < 9; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::abs(x[b * 32 + j]));
    const float d = F16BitsToF32(F32ToF16Bits(amax / 127.f));
    for (int j = 0; j < 32; ++j) {
      const float v = y[b * 32 + j];
      if (amax == 0.f) {
        EXPECT_EQ(v, 0.f);
        continue;
      }
      const float q = v / d;
      EXPECT_NEAR(q, std::nearbyint(q), 1e-3) << b << " " << j;
      EXPECT_LE(std::abs(q), 127.5f);
      EXPECT_LE(std::abs(v - x[b * 32 + j]), 0.5f * d + 127.f * std::abs(d - amax / 127.f) + 1e-6f);
    }
  }
}

TEST(ActivationRound, Q8_KUsesSignedScaleAndClampsAt127) {
  std::vector<float> x(256, 0.f), y(256);
  x[0] = -3.f;  // largest magnitude, negative: scale is positive 3/127
  x[1] = 1.f;
  x[2] = 2.999f;
  RoundActivations(GgmlType::kQ4_K, x.data(), y.data(), 256);
  const float d = 1.f / (-127.f / -3.f);
  EXPECT_FLOAT_EQ(y[0], -127 * d);
  EXPECT_FLOAT_EQ(y[1], std::nearbyint(1.f / d) * d);
  EXPECT_FLOAT_EQ(y[2], 127 * d);
  EXPECT_EQ(y[3], 0.f);
}

TEST(ActivationRound, F32IsUntouchedAndRoundingIsIdempotent) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x(512), y(512), z(512);
  for (float& v : x) v = normal(rng);
  RoundActivations(GgmlType::kF32, x.data(), y.data(), 512);
  EXPECT_EQ(x, y);
  for (GgmlType t : {GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_K}) {
    RoundActivations(t, x.data(), y.data(), 512);
    RoundActivations(t, y.data(), z.data(), 512);
    for (int i = 0; i < 512; ++i) ASSERT_FLOAT_EQ(y[i], z[i]) << GgmlTypeName(t) << i;
  }
}

// 16-bit rounding goes through the vector conversions in chunks: the same
// values as the scalar round trip on every target, across chunk ends, in
// place too, with overflow, denormals and signed zeros.
TEST(ActivationRound, SixteenBitRoundingEqualsScalarOnEveryTarget) {
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.f, 30.f);
  const int64_t n = 2 * 1024 + 96;
  std::vector<float> x(n);  // [n]
  for (float& v : x) v = normal(rng);
  x[0] = 1e6f, x[1] = -7e4f, x[2] = 3e-7f, x[3] = -0.f, x[1023] = 65519.f, x[1024] = 1e-9f;
  for (GgmlType t : {GgmlType::kF16, GgmlType::kBF16}) {
    std::vector<float> want(n);  // [n]
    for (int64_t i = 0; i < n; ++i) {
      want[i] = t == GgmlType::kF16
                    ? F16BitsToF32(F32ToF16Bits(x[i]))
                    : quant_internal::BF16BitsToF32(quant_internal::F32ToBF16Bits(x[i]));
    }
    ForEachTarget([&](int64_t) {
      std::vector<float> got(n), inplace = x;  // [n]
      RoundActivations(t, x.data(), got.data(), n);
      RoundActivations(t, inplace.data(), inplace.data(), n);
      ASSERT_EQ(0, std::memcmp(got.data(), want.data(), n * sizeof(float))) << GgmlTypeName(t);
      ASSERT_EQ(0, std::memcmp(inplace.data(), want.data(), n * sizeof(float)));
    });
  }
}

}  // namespace
}  // namespace skv
