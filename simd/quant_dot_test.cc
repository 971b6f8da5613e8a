// Tests for the integer dot path: the activation quantiser reproduces
// RoundActivations bit for bit, the scalar reference equals the float dot of
// (weights, RoundActivations(x)) up to f32 summation order, the Highway
// kernels match the reference on every compiled target, and MatVecQ8 does not
// depend on the thread count.
// quant_dot.cc compiles Highway's AVX3_DL target (VNNI); ForEachTarget only
// visits the targets this file compiles, so opt in here too.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif
#include "simd/quant_dot.h"
#include "simd/quant_test_rows.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "base/parallel.h"
#include "gtest/gtest.h"
#include "simd/activation_round.h"
#include "simd/quant.h"
#include "simd/target_test_util.h"

namespace skv {
namespace {

bool SameBits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

constexpr float kEps = 1.1920929e-07f;  // f32 machine epsilon


std::vector<float> RandomVector(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x(n);  // [n]
  for (float& v : x) v = normal(rng);
  return x;
}

// The Highway quantiser equals the scalar reference bit for bit on every
// target: normal values, outliers, all-zero blocks, exact rounding ties,
// equal largest magnitudes of both signs (Q8_K keeps the first one's sign),
// denormals, and rows with nan / inf (flagged non-finite by both).
TEST(QuantizeActivationsTest, EqualsReferenceOnEveryTarget) {
  std::mt19937 rng(31);
  const int64_t n = 1024;
  std::vector<std::vector<float>> rows;  // [case][n]
  rows.push_back(RandomVector(n, rng));
  {
    std::vector<float> x = RandomVector(n, rng);
    x[5] = 40.f, x[300] = -1e4f, x[777] = 3e-3f;
    for (int j = 512; j < 768; ++j) x[j] = 0.f;  // a zero Q8_K block
    rows.push_back(x);
  }
  {
    // Ties: with amax 127 the scale is 1, so k + 0.5 rounds to even.
    std::vector<float> x(n);
    for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(i % 50) - 24.5f;
    for (int64_t b = 0; b < n; b += 32) x[b + 7] = -127.f, x[b + 20] = 127.f;
    rows.push_back(x);
  }
  {
    std::vector<float> x = RandomVector(n, rng);
    for (float& v : x) v *= 1e-41f;  // denormal magnitudes
    rows.push_back(x);
  }
  for (float bad : {std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity()}) {
    std::vector<float> x = RandomVector(n, rng);
    x[333] = bad;
    rows.push_back(x);
  }
  for (GgmlType type : {GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ5_0,
                        GgmlType::kQ4_K, GgmlType::kQ6_K}) {
    SCOPED_TRACE(GgmlTypeName(type));
    for (size_t c = 0; c < rows.size(); ++c) {
      SCOPED_TRACE(c);
      QuantizedActivations want;
      QuantizeActivationsRef(type, rows[c].data(), n, &want);
      ForEachTarget([&](int64_t) {
        QuantizedActivations got;
        QuantizeActivations(type, rows[c].data(), n, &got);
        ASSERT_EQ(got.finite, want.finite);
        if (!want.finite) return;  // the codes are meaningless then
        EXPECT_EQ(got.type, want.type);
        EXPECT_EQ(got.n, want.n);
        EXPECT_EQ(got.q, want.q);
        EXPECT_EQ(got.q16, want.q16);
        EXPECT_EQ(got.bsums, want.bsums);
        EXPECT_EQ(got.bias4, want.bias4);
        ASSERT_EQ(got.d.size(), want.d.size());
        EXPECT_EQ(0, std::memcmp(got.d.data(), want.d.data(), got.d.size() * sizeof(float)));
      });
    }
  }
}

// Tolerance for two f32 evaluations of the same products in different
// orders (and with d_w * d_x rounded once per block instead of per element):
// a few ulps of the sum of magnitudes, growing like sqrt(n).
float Tolerance(GgmlType type, const uint8_t* row, const float* xr, int64_t n) {
  std::vector<float> w(n);  // [n]
  DequantizeRowRef(type, row, w.data(), n);
  double mag = 0.0;
  for (int64_t i = 0; i < n; ++i) mag += std::abs(static_cast<double>(w[i]) * xr[i]);
  return static_cast<float>(4.0 * mag * kEps * std::sqrt(static_cast<double>(n))) +
         1e-30f;
}

TEST(QuantDotTest, DequantizedActivationsEqualRoundActivations) {
  std::mt19937 rng(11);
  for (GgmlType type : kIntTypes) {
    SCOPED_TRACE(GgmlTypeName(type));
    const int64_t n = 1024;
    std::vector<float> x = RandomVector(n, rng);
    for (int j = 0; j < 256; ++j) x[256 + j] = 0.f;  // all-zero blocks
    for (int j = 0; j < 32; ++j) x[512 + j] *= 1e-6f;  // f16-subnormal scale
    x[5] *= 1e6f;     // one outlier
    QuantizedActivations q;
    QuantizeActivations(type, x.data(), n, &q);
    EXPECT_TRUE(q.finite);
    std::vector<float> got(n), want(n);  // [n]
    DequantizeActivations(q, got.data());
    RoundActivations(type, x.data(), want.data(), n);
    // Bit-equal, except that int8 has no -0: RoundActivations gives -0 for
    // small negative inputs, which contributes nothing to a dot either way.
    for (int64_t i = 0; i < n; ++i) {
      uint32_t a, b;
      std::memcpy(&a, &got[i], 4);
      std::memcpy(&b, &want[i], 4);
      if (want[i] == 0.f) {
        ASSERT_EQ(got[i], 0.f) << i;
      } else {
        ASSERT_EQ(a, b) << i << " " << got[i] << " " << want[i];
      }
    }
    if (q.type == GgmlType::kQ8_K) {
      for (int64_t s = 0; s < n / 16; ++s) {
        int sum = 0;
        for (int j = 0; j < 16; ++j) sum += q.q[16 * s + j];
        ASSERT_EQ(q.bsums[s], sum);
      }
    }
  }
}

// nan/inf in x: Q8_0 rounding turns them into nan, which int8 cannot hold,
// so the block is flagged for the float path. Q8_K rounding maps a nan to
// +127 (as ggml's min(127, nearest_int(nan)) does) and only inf is flagged.
TEST(QuantDotTest, NonFiniteActivationsAreFlagged) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  struct Case {
    GgmlType type;
    float bad;
    bool finite;
  };
  for (const Case& c : {Case{GgmlType::kQ8_0, nan, false},
                        Case{GgmlType::kQ8_0, inf, false},
                        Case{GgmlType::kQ4_K, nan, true},
                        Case{GgmlType::kQ4_K, inf, false}}) {
    SCOPED_TRACE(GgmlTypeName(c.type));
    std::vector<float> x(512, 1.f);  // [512]
    x[300] = c.bad;
    QuantizedActivations q;
    QuantizeActivations(c.type, x.data(), 512, &q);
    EXPECT_EQ(q.finite, c.finite) << c.bad;
    if (!q.finite) continue;
    std::vector<float> got(512), want(512);  // [512]
    DequantizeActivations(q, got.data());
    RoundActivations(c.type, x.data(), want.data(), 512);
    EXPECT_EQ(got, want);
  }
}

// The reference integer dot against the float dot of the dequantised weights
// and RoundActivations(x) (accumulated in double by DotRowRef).
TEST(QuantDotTest, ReferenceMatchesFloatDotOfRoundedActivations) {
  std::mt19937 rng(12);
  for (GgmlType type : kIntTypes) {
    SCOPED_TRACE(GgmlTypeName(type));
    for (int64_t n : {256, 768, 2048}) {
      const std::vector<uint8_t> w = RandomRows(type, 3, n, rng);
      const int64_t rb = GgmlRowBytes(type, n);
      const std::vector<float> x = RandomVector(n, rng);
      std::vector<float> xr(n);  // [n]
      RoundActivations(type, x.data(), xr.data(), n);
      QuantizedActivations q;
      QuantizeActivations(type, x.data(), n, &q);
      for (int r = 0; r < 3; ++r) {
        const uint8_t* row = w.data() + r * rb;
        const float want = DotRowRef(type, row, xr.data(), n);
        EXPECT_NEAR(DotQ8Ref(type, row, q), want, Tolerance(type, row, xr.data(), n))
            << "n=" << n << " row " << r;
      }
    }
  }
}

TEST(QuantDotTest, KernelsMatchReferenceOnEveryTarget) {
  std::mt19937 rng(13);
  for (GgmlType type : kIntTypes) {
    SCOPED_TRACE(GgmlTypeName(type));
    // Odd row counts and block counts (one block, odd, even).
    for (int64_t n : {256, 768, 2048}) {
      const int64_t rows = 7;
      const std::vector<uint8_t> w = RandomRows(type, rows, n, rng);
      const int64_t rb = GgmlRowBytes(type, n);
      const std::vector<float> x = RandomVector(n, rng);
      std::vector<float> xr(n);  // [n]
      RoundActivations(type, x.data(), xr.data(), n);
      QuantizedActivations q;
      QuantizeActivations(type, x.data(), n, &q);
      ForEachTarget([&](int64_t) {
        std::vector<float> y(rows);  // [rows]
        MatVecQ8(type, w.data(), rb, q, y.data(), rows);
        for (int64_t r = 0; r < rows; ++r) {
          const uint8_t* row = w.data() + r * rb;
          const float tol = Tolerance(type, row, xr.data(), n);
          const float ref = DotQ8Ref(type, row, q);
          // One arithmetic (quant_dot.h): the reference's bits exactly.
          EXPECT_TRUE(SameBits(y[r], ref)) << "n=" << n << " row " << r << ": "
                                           << y[r] << " vs " << ref;
          EXPECT_TRUE(SameBits(DotQ8(type, row, q), ref));
          EXPECT_NEAR(y[r], DotRowRef(type, row, xr.data(), n), tol);
        }
      });
    }
  }
}

// Q4_0/Q5_0/Q8_0 rows with 32-element blocks need not be multiples of 256.
TEST(QuantDotTest, SmallBlockTypesOnOddBlockCounts) {
  std::mt19937 rng(14);
  for (GgmlType type : {GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ8_0}) {
    SCOPED_TRACE(GgmlTypeName(type));
    for (int64_t n : {32, 96, 640}) {
      const int64_t rows = 5;
      const std::vector<uint8_t> w = RandomRows(type, rows, n, rng);
      const int64_t rb = GgmlRowBytes(type, n);
      const std::vector<float> x = RandomVector(n, rng);
      std::vector<float> xr(n);  // [n]
      RoundActivations(type, x.data(), xr.data(), n);
      QuantizedActivations q;
      QuantizeActivations(type, x.data(), n, &q);
      ForEachTarget([&](int64_t) {
        std::vector<float> y(rows);  // [rows]
        MatVecQ8(type, w.data(), rb, q, y.data(), rows);
        for (int64_t r = 0; r < rows; ++r) {
          const uint8_t* row = w.data() + r * rb;
          EXPECT_NEAR(y[r], DotRowRef(type, row, xr.data(), n),
                      Tolerance(type, row, xr.data(), n))
              << "n=" << n << " row " << r;
          EXPECT_TRUE(SameBits(y[r], DotQ8Ref(type, row, q))) << "n=" << n << " row " << r;
        }
      });
    }
  }
}

// Codes at the ends of their ranges against activations at +-127: the
// byte-dot kernels' int16 pair sums (pmaddubsw saturates) must not clip.
TEST(QuantDotTest, ExtremeCodesDoNotSaturate) {
  for (GgmlType type : kIntTypes) {
    SCOPED_TRACE(GgmlTypeName(type));
    const int64_t n = 512, rows = 4;
    const int64_t rb = GgmlRowBytes(type, n);
    const GgmlTypeTraits& t = GetGgmlType(type);
    std::mt19937 rng(16);
    std::vector<uint8_t> w = RandomRows(type, rows, n, rng);  // scales kept
    // Row 0: every code byte 0x80 (Q8_0: -128), row 1: 0xFF, rows 2-3: 0x7F
    // and 0x00; the fp16 fields stay as RandomRows made them.
    const uint8_t fill[4] = {0x80, 0xFF, 0x7F, 0x00};
    std::vector<float> x(n);  // [n]
    for (int64_t i = 0; i < n; ++i) x[i] = (i / 7) % 2 ? -3.f : 3.f;
    for (int64_t r = 0; r < rows; ++r) {
      const std::vector<uint8_t> scales = RandomRows(type, 1, n, rng);
      for (int64_t b = 0; b < n / t.block_size; ++b) {
        uint8_t* blk = w.data() + r * rb + b * t.type_size;
        uint8_t keep[256];
        std::memcpy(keep, blk, t.type_size);
        std::memset(blk, fill[r], t.type_size);
        // Restore the fp16 scale fields (and K-quant 6-bit scales).
        switch (type) {
          case GgmlType::kQ4_K: case GgmlType::kQ5_K: std::memcpy(blk, keep, 16); break;
          case GgmlType::kQ6_K: std::memcpy(blk + 192, keep + 192, 18); break;
          default: std::memcpy(blk, keep, 2); break;
        }
      }
    }
    std::vector<float> xr(n);  // [n]
    RoundActivations(type, x.data(), xr.data(), n);
    QuantizedActivations q;
    QuantizeActivations(type, x.data(), n, &q);
    ForEachTarget([&](int64_t) {
      std::vector<float> y(rows);  // [rows]
      MatVecQ8(type, w.data(), rb, q, y.data(), rows);
      for (int64_t r = 0; r < rows; ++r) {
        const uint8_t* row = w.data() + r * rb;
        EXPECT_TRUE(SameBits(y[r], DotQ8Ref(type, row, q)))
            << "row " << r << ": " << y[r] << " vs " << DotQ8Ref(type, row, q);
      }
    });
  }
}

TEST(QuantDotTest, MatVecQ8IndependentOfThreadCount) {
  std::mt19937 rng(15);
  const int saved = MaxThreads();
  for (GgmlType type : kIntTypes) {
    SCOPED_TRACE(GgmlTypeName(type));
    const int64_t n = 512, rows = 333;
    const std::vector<uint8_t> w = RandomRows(type, rows, n, rng);
    const int64_t rb = GgmlRowBytes(type, n);
    const std::vector<float> x = RandomVector(n, rng);
    QuantizedActivations q;
    QuantizeActivations(type, x.data(), n, &q);
    std::vector<float> y1(rows), yt(rows);  // [rows]
    SetThreads(1);
    MatVecQ8(type, w.data(), rb, q, y1.data(), rows);
    for (int threads : {2, 3, 4}) {
      SetThreads(threads);
      MatVecQ8(type, w.data(), rb, q, yt.data(), rows);
      EXPECT_EQ(0, std::memcmp(y1.data(), yt.data(), rows * sizeof(float))) << threads;
    }
  }
  SetThreads(saved);
}

}  // namespace
}  // namespace skv
