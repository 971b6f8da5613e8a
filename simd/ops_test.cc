// Every kernel of simd/ops.h against its scalar reference, on every compiled
// Highway target, over lengths with odd tails. Tolerances follow from f32
// epsilon and the magnitude of the inputs.
#include "simd/ops.h"

#include <cmath>
#include <cstring>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "simd/target_test_util.h"

namespace skv {
namespace {

constexpr float kEps = std::numeric_limits<float>::epsilon();

std::vector<float> RandomVec(int64_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<int64_t> Lengths() {
  std::vector<int64_t> n;
  for (int64_t i = 0; i <= 70; ++i) n.push_back(i);
  for (int64_t i : {127, 128, 129, 255, 640, 1000, 2048, 4097}) n.push_back(i);
  return n;
}

// Expects |got[i] - want[i]| <= tol[i] everywhere; reports the worst element
// (largest error relative to its tolerance).
void ExpectClose(const std::vector<float>& got, const std::vector<float>& want,
                 const std::vector<double>& tol, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  double worst = 0.0;
  size_t worst_i = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    const double ratio = err / tol[i];
    if (!(ratio <= worst) || std::isnan(got[i])) {
      worst = std::isnan(got[i]) ? INFINITY : ratio;
      worst_i = i;
    }
  }
  EXPECT_LE(worst, 1.0) << what << ": n=" << got.size() << " worst i="
                        << worst_i << " got=" << got[worst_i]
                        << " want=" << want[worst_i]
                        << " tol=" << tol[worst_i];
}

// RmsNorm is ggml's rms_norm arithmetic (f32 squares summed in f64, f32 mean
// and scale): equal to the scalar reference bit for bit on every target, and
// within a few roundings of the exact value.
TEST(OpsTest, RmsNormEqualsGgmlArithmetic) {
  ForEachTarget([](int64_t) {
    for (int64_t n : Lengths()) {
      const auto x = RandomVec(n, -3.f, 3.f, 1 + n);
      const auto w = RandomVec(n, -2.f, 2.f, 1000 + n);
      for (const bool use_w : {false, true}) {
        const float* wp = use_w ? w.data() : nullptr;
        std::vector<float> got(n), want(n), alias = x;
        RmsNorm(x.data(), wp, 1e-6f, n, got.data());
        RmsNormRef(x.data(), wp, 1e-6f, n, want.data());
        RmsNorm(alias.data(), wp, 1e-6f, n, alias.data());  // out == x
        EXPECT_EQ(got, want) << "n=" << n << " use_w=" << use_w;
        EXPECT_EQ(got, alias) << "in-place result differs, n=" << n;
        double ss = 0;
        for (float v : x) ss += double(v) * v;
        const double scale = n ? 1.0 / std::sqrt(ss / n + 1e-6) : 0.0;
        std::vector<double> exact(n), tol(n);
        for (int64_t i = 0; i < n; ++i) {
          const double wi = use_w ? w[i] : 1.0;
          exact[i] = x[i] * scale * wi;
          tol[i] = 8 * kEps * std::fabs(x[i]) * scale * std::fabs(wi) + 1e-30;
        }
        std::vector<float> exact_f(exact.begin(), exact.end());
        ExpectClose(got, exact_f, tol, "RmsNorm vs exact");
      }
    }
  });
}

TEST(OpsTest, RmsNormRowsMatchesReferenceAndKeepsPadding) {
  ForEachTarget([](int64_t) {
    const int64_t rows = 5, n = 37, stride = 41;
    const auto w = RandomVec(n, 0.5f, 1.5f, 7);
    auto x = RandomVec(rows * stride, -2.f, 2.f, 8);
    const auto orig = x;
    RmsNormRows(x.data(), rows, n, stride, w.data(), 1e-5f);
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> want(n), got(x.begin() + r * stride,
                                      x.begin() + r * stride + n);
      RmsNormRef(orig.data() + r * stride, w.data(), 1e-5f, n, want.data());
      EXPECT_EQ(got, want) << "row " << r;
      for (int64_t i = n; i < stride; ++i) {
        EXPECT_EQ(x[r * stride + i], orig[r * stride + i]);
      }
    }
  });
}

TEST(OpsTest, YarnCorrDimsMatchHandComputedValues) {
  // rot_dim 128, n_ctx_orig 4096, base 1e4: corr_dim(32) = 20.94 -> floor 20,
  // corr_dim(1) = 45.03 -> ceil 46.
  float dims[2];
  RopeYarnCorrDims(128, 4096, 10000.f, 32.f, 1.f, dims);
  EXPECT_EQ(dims[0], 20.f);
  EXPECT_EQ(dims[1], 46.f);
  EXPECT_EQ(RopeYarnRamp(20.f, 46.f, 0), 1.f);
  EXPECT_EQ(RopeYarnRamp(20.f, 46.f, 63), 0.f);
  EXPECT_FLOAT_EQ(RopeYarnRamp(20.f, 46.f, 33), 0.5f);
}

TEST(OpsTest, RopeMatchesReference) {
  const auto factors = RandomVec(256, 1.f, 8.f, 99);
  struct Case {
    RopeParams::Style style;
    int64_t head_dim, rot_dim;
    bool factors, yarn;
    float freq_scale, attn_factor;
  };
  const Case cases[] = {
      {RopeParams::Style::kNorm, 64, 64, false, false, 1.f, 1.f},
      {RopeParams::Style::kNeox, 64, 64, false, false, 1.f, 1.f},
      {RopeParams::Style::kNorm, 80, 46, false, false, 1.f, 1.f},
      {RopeParams::Style::kNeox, 80, 46, false, false, 1.f, 1.f},
      {RopeParams::Style::kNeox, 256, 256, false, false, 0.125f, 1.f},
      {RopeParams::Style::kNeox, 128, 128, true, false, 1.f, 1.f},
      {RopeParams::Style::kNorm, 128, 128, false, true, 0.25f, 1.f},
      {RopeParams::Style::kNeox, 128, 96, true, true, 0.25f, 0.7f},
  };
  ForEachTarget([&](int64_t) {
    for (const Case& c : cases) {
      RopeParams p;
      p.style = c.style;
      p.rot_dim = c.rot_dim;
      p.freq_base = c.head_dim == 256 ? 1e6f : 10000.f;
      p.freq_scale = c.freq_scale;
      p.freq_factors = c.factors ? factors.data() : nullptr;
      p.attn_factor = c.attn_factor;
      if (c.yarn) {
        p.ext_factor = 1.f;
        p.n_ctx_orig = 4096;
      }
      double mscale = p.attn_factor;
      if (c.yarn) mscale *= 1.0 + 0.1 * std::log(1.0 / p.freq_scale);
      const int64_t heads = 3;
      for (int64_t pos : {0, 1, 17, 4095, 30001, 100000, 1000003}) {
        const auto x = RandomVec(heads * c.head_dim, -2.f, 2.f, pos + 5);
        auto got = x, want = x;
        Rope(got.data(), heads, c.head_dim, pos, p);
        RopeRef(want.data(), heads, c.head_dim, pos, p);
        // Each output mixes one pair: the f32 angle (reduced to [-pi, pi])
        // and f32 sin/cos are off by a few eps, times the pair's norm.
        std::vector<double> tol(x.size());
        const int64_t half = c.rot_dim / 2;
        for (int64_t h = 0; h < heads; ++h) {
          for (int64_t i = 0; i < c.head_dim; ++i) {
            const int64_t e = h * c.head_dim + i;
            if (i >= c.rot_dim) {
              tol[e] = 1e-30;  // untouched: exact
              EXPECT_EQ(got[e], x[e]);
              continue;
            }
            int64_t a, b;
            if (c.style == RopeParams::Style::kNeox) {
              a = i < half ? i : i - half;
              b = a + half;
            } else {
              a = i & ~int64_t{1};
              b = a + 1;
            }
            const double pn = std::hypot(x[h * c.head_dim + a], x[h * c.head_dim + b]);
            tol[e] = 16 * kEps * pn * mscale + 1e-30;
          }
        }
        SCOPED_TRACE(::testing::Message() << "pos=" << pos << " rot=" << c.rot_dim
                                          << " neox=" << (c.style == RopeParams::Style::kNeox));
        ExpectClose(got, want, tol, "Rope");
      }
    }
  });
}

TEST(OpsTest, RopeAtPositionZeroIsIdentity) {
  RopeParams p;
  p.rot_dim = 64;
  const auto x = RandomVec(128, -1.f, 1.f, 3);
  auto y = x;
  Rope(y.data(), 2, 64, 0, p);
  EXPECT_EQ(x, y);
}

template <class Kernel, class Ref>
void CheckGated(const Kernel& kernel, const Ref& ref, const char* what) {
  ForEachTarget([&](int64_t) {
    for (int64_t n : Lengths()) {
      auto g = RandomVec(n, -8.f, 8.f, 11 + n);
      const auto u = RandomVec(n, -3.f, 3.f, 12 + n);
      if (n > 4) {  // saturated regions
        g[0] = -100.f;
        g[1] = 100.f;
        g[2] = -30.f;
        g[3] = 0.f;
      }
      std::vector<float> got(n), want(n);
      kernel(g.data(), u.data(), n, got.data());
      ref(g.data(), u.data(), n, want.data());
      // exp/tanh are accurate to a few ULP; where the output cancels
      // (1 + tanh -> 0) the absolute error scales with |g * u|.
      std::vector<double> tol(n);
      for (int64_t i = 0; i < n; ++i) {
        tol[i] = 16 * kEps * (std::fabs(want[i]) + std::fabs(g[i] * u[i])) + 1e-30;
      }
      ExpectClose(got, want, tol, what);
      auto alias = g;  // out == gate
      kernel(alias.data(), u.data(), n, alias.data());
      EXPECT_EQ(alias, got) << what << " in place, n=" << n;
    }
  });
}

// GeGLU follows ggml's f16 table, so kernel and reference agree to one f16
// ulp of gelu (the table rounds an f32 tanh, the reference a double one).
TEST(OpsTest, GeluTanhMulMatchesReference) {
  for (int64_t n : Lengths()) {
    auto g = RandomVec(n, -12.f, 12.f, 11 + n);
    const auto u = RandomVec(n, -3.f, 3.f, 12 + n);
    std::vector<float> got(n), want(n);
    GeluTanhMul(g.data(), u.data(), n, got.data());
    GeluTanhMulRef(g.data(), u.data(), n, want.data());
    std::vector<double> tol(n);
    for (int64_t i = 0; i < n; ++i) {
      tol[i] = 1e-3 * std::fabs(g[i] * u[i]) + 1e-30;
    }
    ExpectClose(got, want, tol, "GeluTanhMul");
    auto alias = g;  // out == gate
    GeluTanhMul(alias.data(), u.data(), n, alias.data());
    EXPECT_EQ(alias, got) << "in place, n=" << n;
  }
}

// Spot values of ggml's definition: saturation outside [-10, 10] and the
// f16 rounding of both the input and the result.
TEST(OpsTest, GeluTanhMulFollowsGgmlTable) {
  const std::vector<float> g = {-11.f, 11.f, 0.f, 1.f, 1.0001f};
  const std::vector<float> u = {2.f, 2.f, 5.f, 1.f, 1.f};
  std::vector<float> y(g.size());
  GeluTanhMul(g.data(), u.data(), g.size(), y.data());
  EXPECT_EQ(y[0], 0.f);
  EXPECT_EQ(y[1], 22.f);
  EXPECT_EQ(y[2], 0.f);
  EXPECT_NEAR(y[3], 0.8413f, 1e-3);  // gelu(1) = 0.8412
  EXPECT_EQ(y[3], y[4]);             // 1.0001 rounds to f16 1.0
}

TEST(OpsTest, SiluMulMatchesReference) {
  CheckGated(SiluMul, SiluMulRef, "SiluMul");
}

TEST(OpsTest, AddAndScaleAreExact) {
  ForEachTarget([](int64_t) {
    for (int64_t n : Lengths()) {
      const auto x = RandomVec(n, -5.f, 5.f, 21 + n);
      const auto y = RandomVec(n, -5.f, 5.f, 22 + n);
      auto a = x, s = x;
      AddInPlace(a.data(), y.data(), n);
      ScaleInPlace(s.data(), 0.37f, n);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(a[i], x[i] + y[i]) << "n=" << n << " i=" << i;
        ASSERT_EQ(s[i], x[i] * 0.37f) << "n=" << n << " i=" << i;
      }
    }
  });
}

TEST(OpsTest, SoftmaxMatchesReference) {
  ForEachTarget([](int64_t) {
    for (int64_t n : Lengths()) {
      if (n == 0) continue;
      auto x = RandomVec(n, -20.f, 20.f, 31 + n);
      if (n > 3) x[n / 2] = -std::numeric_limits<float>::infinity();  // masked
      auto got = x, want = x;
      SoftmaxInPlace(got.data(), n);
      SoftmaxInPlaceRef(want.data(), n);
      // exp of (x - max) in f32: relative error ~ eps * (|x - max| + few);
      // the normaliser adds another few eps.
      std::vector<double> tol(n);
      for (int64_t i = 0; i < n; ++i) tol[i] = 64 * kEps * want[i] + 1e-37;
      ExpectClose(got, want, tol, "Softmax");
    }
    std::vector<float> masked(9, -std::numeric_limits<float>::infinity());
    SoftmaxInPlace(masked.data(), 9);
    for (float v : masked) EXPECT_EQ(v, 0.f);
  });
}

TEST(OpsTest, DotMatchesDoubleSum) {
  ForEachTarget([](int64_t) {
    for (int64_t n : Lengths()) {
      const auto a = RandomVec(n, -1.f, 1.f, 41 + n);
      const auto b = RandomVec(n, -1.f, 1.f, 42 + n);
      double want = 0, mag = 0;
      for (int64_t i = 0; i < n; ++i) {
        want += double(a[i]) * b[i];
        mag += std::fabs(double(a[i]) * b[i]);
      }
      // Each of the 64 virtual lanes sums n / 64 terms in order, a tree of
      // 6 levels adds them, then up to 63 tail terms follow one by one: the
      // classic gamma_k bound with k = n / 64 + 6 + 63.
      const double tol = (n / 64.0 + 70) * kEps * mag + 1e-30;
      const float got = DotF32(a.data(), b.data(), n);
      EXPECT_NEAR(got, want, tol) << "n=" << n;
    }
  });
}

// Every op gives the same bits on every target (simd/fixed_math-inl.h:
// fused multiply-adds everywhere, reductions in fixed virtual lanes), for
// lengths around every vector width and tail.
TEST(OpsTest, SameBitsOnEveryTarget) {
  std::vector<std::vector<float>> first;  // [check] the first target's results
  int target_index = 0;
  ForEachTarget([&](int64_t) {
    std::vector<std::vector<float>> got;
    for (int64_t n : Lengths()) {
      const auto a = RandomVec(n, -3.f, 3.f, 51 + n);
      const auto b = RandomVec(n, -3.f, 3.f, 52 + n);
      std::vector<float> y(n);
      RmsNorm(a.data(), b.data(), 1e-6f, n, y.data());
      got.push_back(y);
      SiluMul(a.data(), b.data(), n, y.data());
      got.push_back(y);
      GeluTanhMul(a.data(), b.data(), n, y.data());
      got.push_back(y);
      y = a;
      SoftmaxInPlace(y.data(), n);
      got.push_back(y);
      got.push_back({DotF32(a.data(), b.data(), n)});
    }
    for (auto style : {RopeParams::Style::kNorm, RopeParams::Style::kNeox}) {
      for (int64_t rot : {46, 64, 96, 128}) {
        RopeParams p;
        p.style = style;
        p.rot_dim = rot;
        auto x = RandomVec(3 * 128, -2.f, 2.f, 61 + rot);
        Rope(x.data(), 3, 128, 1234, p);
        got.push_back(x);
      }
    }
    if (target_index++ == 0) {
      first = got;
      return;
    }
    ASSERT_EQ(first.size(), got.size());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(first[i].size(), got[i].size());
      EXPECT_EQ(0, std::memcmp(first[i].data(), got[i].data(), got[i].size() * sizeof(float)))
          << "check " << i;
    }
  });
}

}  // namespace
}  // namespace skv
