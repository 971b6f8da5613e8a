// Tests for the integer prefill GEMM: on every compiled target, MatMulQ8
// equals MatVecQ8 run token by token and the scalar DotQ8Ref bit for bit
// (quant_dot.h, "one arithmetic"), for token counts around the tile widths,
// odd row counts (partial 8- and 16-row panels), strided outputs, many
// tokens, extreme codes, and any thread count.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL  // visit the VNNI target quant_gemm.cc compiles
#endif
#include "simd/quant_gemm.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/parallel.h"
#include "gtest/gtest.h"
#include "simd/quant.h"
#include "simd/quant_test_rows.h"
#include "simd/target_test_util.h"

namespace skv {
namespace {

std::vector<QuantizedActivations> RandomTokens(GgmlType type, int64_t T,
                                               int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<QuantizedActivations> q(T);  // [T]
  std::vector<float> x(n);                 // [n]
  for (int64_t t = 0; t < T; ++t) {
    for (float& v : x) v = normal(rng);
    if (t % 3 == 1) x[t % n] *= 50.f;  // an outlier in some tokens
    QuantizeActivations(type, x.data(), n, &q[t]);
  }
  return q;
}

// MatMulQ8 against MatVecQ8 per token and DotQ8Ref, bit for bit; y has
// `pad` unused floats after each token's rows, which must stay untouched.
void ExpectEqualsMatVec(GgmlType type, const std::vector<uint8_t>& w,
                        int64_t rows, int64_t n,
                        const std::vector<QuantizedActivations>& x, int64_t pad) {
  const int64_t T = static_cast<int64_t>(x.size());
  const int64_t rb = GgmlRowBytes(type, n);
  const int64_t ys = rows + pad;
  constexpr float kCanary = -12345.f;
  std::vector<float> got(T * ys, kCanary), want(T * ys, kCanary);  // [T][ys]
  MatMulQ8(type, w.data(), rb, x.data(), T, got.data(), ys, rows);
  for (int64_t t = 0; t < T; ++t) {
    MatVecQ8(type, w.data(), rb, x[t], want.data() + t * ys, rows);
  }
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t r = 0; r < ys; ++r) {
      const float g = got[t * ys + r];
      const float e = r < rows ? DotQ8Ref(type, w.data() + r * rb, x[t]) : kCanary;
      ASSERT_EQ(0, std::memcmp(&g, &want[t * ys + r], sizeof(float)))
          << "T=" << T << " n=" << n << " rows=" << rows << " token " << t
          << " row " << r << ": " << g << " vs GEMV " << want[t * ys + r];
      ASSERT_EQ(0, std::memcmp(&g, &e, sizeof(float)))
          << "T=" << T << " n=" << n << " rows=" << rows << " token " << t
          << " row " << r << ": " << g << " vs reference " << e;
    }
  }
}

TEST(QuantGemmTest, AgreesWithMatVecQ8OnEveryTarget) {
  std::mt19937 rng(21);
  for (GgmlType type : kIntTypes) {
    SCOPED_TRACE(GgmlTypeName(type));
    const bool k = GetGgmlType(type).block_size == 256;
    // One block, odd and even block counts.
    for (int64_t n : k ? std::vector<int64_t>{256, 768, 1024}
                       : std::vector<int64_t>{32, 96, 640}) {
      for (int64_t rows : {1, 2, 7, 8, 9, 16, 35}) {
        const std::vector<uint8_t> w = RandomRows(type, rows, n, rng);
        // Token counts 1 .. tile width + 1, and a few full tiles plus edges.
        for (int64_t T : {1, 2, 3, 4, 5, 8, 9, 11, 19}) {
          const std::vector<QuantizedActivations> x = RandomTokens(type, T, n, rng);
          ForEachTarget([&](int64_t) {
            ExpectEqualsMatVec(type, w, rows, n, x, T % 2 ? 3 : 0);
          });
        }
      }
    }
  }
}

// Many tokens (tiles of 4 and 8 tokens, and their remainders).
TEST(QuantGemmTest, ManyTokensSpanChunks) {
  std::mt19937 rng(22);
  for (GgmlType type : {GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ6_K}) {
    SCOPED_TRACE(GgmlTypeName(type));
    const int64_t n = 4096, rows = 9, T = 150;
    const std::vector<uint8_t> w = RandomRows(type, rows, n, rng);
    const std::vector<QuantizedActivations> x = RandomTokens(type, T, n, rng);
    ExpectEqualsMatVec(type, w, rows, n, x, 1);
  }
}

// Codes at the ends of their ranges against activations at +-127 (the
// pmaddubsw pair sums must not saturate), as in quant_dot_test.cc.
TEST(QuantGemmTest, ExtremeCodes) {
  for (GgmlType type : kIntTypes) {
    SCOPED_TRACE(GgmlTypeName(type));
    const int64_t n = 512, rows = 4, T = 6;
    const int64_t rb = GgmlRowBytes(type, n);
    const GgmlTypeTraits& t = GetGgmlType(type);
    std::mt19937 rng(23);
    std::vector<uint8_t> w = RandomRows(type, rows, n, rng);
    const uint8_t fill[4] = {0x80, 0xFF, 0x7F, 0x00};
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t b = 0; b < n / t.block_size; ++b) {
        uint8_t* blk = w.data() + r * rb + b * t.type_size;
        uint8_t keep[256];
        std::memcpy(keep, blk, t.type_size);
        std::memset(blk, fill[r], t.type_size);
        switch (type) {  // keep the fp16 fields (and K-quant scales)
          case GgmlType::kQ4_K: case GgmlType::kQ5_K: std::memcpy(blk, keep, 16); break;
          case GgmlType::kQ6_K: std::memcpy(blk + 192, keep + 192, 18); break;
          default: std::memcpy(blk, keep, 2); break;
        }
      }
    }
    std::vector<QuantizedActivations> x(T);  // [T]
    std::vector<float> xf(n);                // [n]
    for (int64_t k = 0; k < T; ++k) {
      for (int64_t i = 0; i < n; ++i) xf[i] = ((i + k) / 7) % 2 ? -3.f : 3.f;
      QuantizeActivations(type, xf.data(), n, &x[k]);
    }
    ForEachTarget([&](int64_t) { ExpectEqualsMatVec(type, w, rows, n, x, 0); });
  }
}

TEST(QuantGemmTest, IndependentOfThreadCount) {
  std::mt19937 rng(24);
  const int saved = MaxThreads();
  for (GgmlType type : kIntTypes) {
    SCOPED_TRACE(GgmlTypeName(type));
    const int64_t n = 512, rows = 333, T = 7;
    const std::vector<uint8_t> w = RandomRows(type, rows, n, rng);
    const std::vector<QuantizedActivations> x = RandomTokens(type, T, n, rng);
    const int64_t rb = GgmlRowBytes(type, n);
    std::vector<float> y1(T * rows), yt(T * rows);  // [T][rows]
    SetThreads(1);
    MatMulQ8(type, w.data(), rb, x.data(), T, y1.data(), rows, rows);
    for (int threads : {2, 3, 4}) {
      SetThreads(threads);
      MatMulQ8(type, w.data(), rb, x.data(), T, yt.data(), rows, rows);
      EXPECT_EQ(0, std::memcmp(y1.data(), yt.data(), y1.size() * sizeof(float))) << threads;
    }
  }
  SetThreads(saved);
}

}  // namespace
}  // namespace skv
