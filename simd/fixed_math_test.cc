// fixed_math-inl.h on every compiled target: e^x and tanh within a few ulp
// of libm's, and bit for bit the same on every target; the virtual-lane sum
// equal to its one-lane specification.
#include "simd/fixed_math.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "simd/target_test_util.h"

namespace skv {
namespace {

// |got - want| in units of the last place of want (f32).
double Ulps(float got, double want) {
  if (got == want) return 0;
  const double ulp = std::ldexp(1.0, std::ilogb(static_cast<float>(want)) - 23);
  return std::fabs(got - want) / std::max(ulp, std::ldexp(1.0, -149));
}

std::vector<float> Inputs(float lo, float hi, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> x(n);
  for (float& v : x) v = u(rng);
  return x;
}

// Runs fn(x, y, n) on every target and checks that they agree bit for bit.
template <class Fn>
std::vector<float> SameOnEveryTarget(const std::vector<float>& x, const Fn& fn) {
  std::vector<float> first;
  ForEachTarget([&](int64_t) {
    std::vector<float> y(x.size());
    fn(x.data(), y.data(), static_cast<int64_t>(x.size()));
    if (first.empty()) {
      first = y;
    } else {
      EXPECT_EQ(0, std::memcmp(first.data(), y.data(), y.size() * sizeof(float)));
    }
  });
  return first;
}

TEST(FixedMathTest, ExpIsAccurateAndTheSameOnEveryTarget) {
  // The domain the kernels use: x <= 88.7 and finite (they clamp -inf).
  std::vector<float> x = Inputs(-110.f, 88.7f, 20001, 1);
  for (float v : {0.f, -0.f, 1.f, -1.f, 88.7f, -87.3f, -103.9f, -104.1f, -120.f,
                  1e-8f, -1e-8f}) {
    x.push_back(v);
  }
  const std::vector<float> y = SameOnEveryTarget(x, FixedExp);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = std::exp(static_cast<double>(x[i]));
    if (x[i] < -104.f) {
      EXPECT_EQ(y[i], 0.f) << x[i];
    } else if (want >= 1.1754944e-38) {  // normal results: relative error
      worst = std::max(worst, Ulps(y[i], want));
    } else {  // subnormal results: absolute error of a few subnormal steps
      EXPECT_NEAR(y[i], want, 4 * std::ldexp(1.0, -149) + 4e-7 * want) << x[i];
    }
  }
  EXPECT_LE(worst, 3.0);
  std::printf("FixedExp: worst error %.2f ulp\n", worst);
}

TEST(FixedMathTest, TanhIsAccurateAndTheSameOnEveryTarget) {
  std::vector<float> x = Inputs(-12.f, 12.f, 20001, 2);
  const std::vector<float> small = Inputs(-0.3f, 0.3f, 5001, 3);
  x.insert(x.end(), small.begin(), small.end());
  for (float v : {0.f, -0.f, 0.25f, -0.25f, 9.f, -9.f, 1e-20f, INFINITY, -INFINITY}) {
    x.push_back(v);
  }
  const std::vector<float> y = SameOnEveryTarget(x, FixedTanh);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = std::tanh(static_cast<double>(x[i]));
    if (want == 0) {
      EXPECT_EQ(y[i], 0.f);
      EXPECT_EQ(std::signbit(y[i]), std::signbit(x[i]));
      continue;
    }
    worst = std::max(worst, Ulps(y[i], want));
  }
  EXPECT_LE(worst, 4.0);
  std::printf("FixedTanh: worst error %.2f ulp\n", worst);
}

TEST(FixedMathTest, SumFollowsItsSpecificationOnEveryTarget) {
  for (int64_t n : {0, 1, 63, 64, 65, 200, 1000, 4099}) {
    std::vector<float> x = Inputs(-1.f, 1.f, static_cast<int>(n), 4);
    for (size_t i = 0; i < x.size(); i += 7) x[i] *= 1e4f;  // rounding matters
    const float want = FixedSumRef(x.data(), n);
    ForEachTarget([&](int64_t) {
      const float got = FixedSum(x.data(), n);
      EXPECT_EQ(0, std::memcmp(&got, &want, sizeof(float))) << n << ": " << got << " vs " << want;
    });
  }
}

}  // namespace
}  // namespace skv
