#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL  // visit the VNNI target quant_gemm.cc compiles
#endif
#include "simd/matmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <random>
#include <vector>

#include "base/parallel.h"
#include "simd/activation_round.h"
#include "simd/onednn_gemm.h"
#include "simd/quant.h"
#include "simd/quant_gemm.h"
#include "simd/quant_internal.h"
#include "simd/target_test_util.h"

namespace skv {
namespace {

// Builds a [rows][cols] matrix in `type` with random content: F32/F16/BF16
// from random values, Q8_0 blocks (f16 scale + 32 int8) and Q4_K blocks
// (f16 d and dmin, then random scales and nibbles) from random bytes.
std::vector<uint8_t> RandomMatrix(GgmlType type, int64_t rows, int64_t cols,
                                  std::mt19937& rng) {
  const int64_t row_bytes = GgmlRowBytes(type, cols);
  std::vector<uint8_t> data(rows * row_bytes);  // [rows][row_bytes]
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = data.data() + r * row_bytes;
    for (int64_t c = 0; c < cols; ++c) {
      if (type == GgmlType::kF32) {
        reinterpret_cast<float*>(row)[c] = normal(rng);
      } else if (type == GgmlType::kF16) {
        reinterpret_cast<uint16_t*>(row)[c] = F32ToF16Bits(normal(rng));
      } else if (type == GgmlType::kBF16) {
        reinterpret_cast<uint16_t*>(row)[c] =
            quant_internal::F32ToBF16Bits(normal(rng));
      }
    }
    if (type == GgmlType::kQ8_0) {
      for (int64_t b = 0; b < cols / 32; ++b) {
        uint8_t* block = row + b * 34;
        const uint16_t d = F32ToF16Bits(0.01f + 0.001f * (rng() % 10));
        std::memcpy(block, &d, 2);
        for (int i = 0; i < 32; ++i) block[2 + i] = static_cast<uint8_t>(rng());
      }
    }
    if (type == GgmlType::kQ4_K) {
      for (int64_t b = 0; b < cols / 256; ++b) {
        uint8_t* block = row + b * 144;
        for (int i = 0; i < 144; ++i) block[i] = static_cast<uint8_t>(rng());
        const uint16_t d = F32ToF16Bits(0.001f + 0.0001f * (rng() % 10));
        const uint16_t dmin = F32ToF16Bits(0.0005f * (rng() % 10));
        std::memcpy(block, &d, 2);
        std::memcpy(block + 2, &dmin, 2);
      }
    }
  }
  return data;
}

class MatMulTest : public ::testing::TestWithParam<GgmlType> {};

TEST_P(MatMulTest, F32MatchesDequantisedReferenceForAllBatchSizes) {
  const GgmlType type = GetParam();
  std::mt19937 rng(7);
  const int64_t rows = 77, cols = 96;
  std::vector<uint8_t> w = RandomMatrix(type, rows, cols, rng);
  MatrixRef m{w.data(), type, rows, cols, GgmlRowBytes(type, cols)};
  std::vector<float> wf(rows * cols);  // [rows][cols] reference weights
  for (int64_t r = 0; r < rows; ++r) {
    DequantizeRowRef(type, w.data() + r * m.row_bytes, wf.data() + r * cols, cols);
  }
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t T : {1, 2, 3, 17, 64}) {
    std::vector<float> x(T * cols);  // [T][cols]
    for (float& v : x) v = normal(rng);
    std::vector<float> y(T * rows, NAN);  // [T][rows]
    MatMul(m, x.data(), cols, T, y.data(), rows, GemmType::kF32);
    // The reference multiplies the activations as ggml would: rounded to the
    // weights' dot-product type.
    std::vector<float> xr(T * cols);  // [T][cols]
    for (int64_t t = 0; t < T; ++t) {
      RoundActivations(type, x.data() + t * cols, xr.data() + t * cols, cols);
    }
    for (int64_t t = 0; t < T; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        double want = 0, mag = 0;
        for (int64_t c = 0; c < cols; ++c) {
          want += double(wf[r * cols + c]) * xr[t * cols + c];
          mag += std::abs(double(wf[r * cols + c]) * xr[t * cols + c]);
        }
        const double tol = mag * 1e-5 + 1e-6;
        ASSERT_NEAR(y[t * rows + r], want, tol)
            << GgmlTypeName(type) << " T=" << T << " t=" << t << " r=" << r;
      }
    }
  }
}

// Q4_1 / Q5_1 rows dotted with Q8_1 activations as ggml does: the weights'
// offset m multiplies the block sum s = f16(d * sum(q)) of the unrounded
// scale d, not the rounded activations' sum. Every batch size (GEMV and
// GEMM paths) within f32 rounding of that, and the difference from the
// plain rounded-activation product is well above the tolerance (so the
// check can fail).
TEST(MatMulQ8_1Test, OffsetTermUsesGgmlsBlockSums) {
  for (const GgmlType type : {GgmlType::kQ4_1, GgmlType::kQ5_1}) {
    std::mt19937 rng(11);
    const int64_t rows = 37, cols = 256, nb = cols / 32;
    const int64_t row_bytes = GgmlRowBytes(type, cols), block_bytes = row_bytes / nb;
    std::vector<uint8_t> w(rows * row_bytes);  // [rows][row_bytes]
    for (uint8_t& byte : w) byte = static_cast<uint8_t>(rng());
    std::vector<float> m(rows * nb);  // [rows][nb] each block's offset
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* block = w.data() + r * row_bytes + b * block_bytes;
        const uint16_t d = F32ToF16Bits(0.01f + 0.001f * (rng() % 10));
        const uint16_t mb = F32ToF16Bits(-0.1f + 0.02f * (rng() % 10));
        std::memcpy(block, &d, 2);
        std::memcpy(block + 2, &mb, 2);
        m[r * nb + b] = F16BitsToF32(mb);
      }
    }
    MatrixRef mat{w.data(), type, rows, cols, row_bytes};
    std::vector<float> wf(rows * cols);  // [rows][cols]
    for (int64_t r = 0; r < rows; ++r) {
      DequantizeRowRef(type, w.data() + r * row_bytes, wf.data() + r * cols, cols);
    }
    std::normal_distribution<float> normal(0.f, 1.f);
    double largest_effect = 0, largest_tol = 0;
    for (int64_t T : {1, 2, 3, 17}) {
      std::vector<float> x(T * cols);  // [T][cols]
      for (float& v : x) v = normal(rng) + 0.3f;  // a mean, so sum(q) is large
      std::vector<float> y(T * rows, NAN);  // [T][rows]
      MatMul(mat, x.data(), cols, T, y.data(), rows, GemmType::kF32);
      for (int64_t t = 0; t < T; ++t) {
        const float* xt = x.data() + t * cols;
        std::vector<float> xr(cols);  // [cols] the values ggml multiplies
        RoundActivations(type, xt, xr.data(), cols);
        for (int64_t r = 0; r < rows; ++r) {
          double plain = 0, mag = 0, offset_fix = 0;
          for (int64_t c = 0; c < cols; ++c) {
            plain += double(wf[r * cols + c]) * xr[c];
            mag += std::abs(double(wf[r * cols + c]) * xr[c]);
          }
          for (int64_t b = 0; b < nb; ++b) {
            float amax = 0;
            for (int j = 0; j < 32; ++j) amax = std::max(amax, std::abs(xt[32 * b + j]));
            const float d = amax / 127.f, dh = F16BitsToF32(F32ToF16Bits(d));
            double sum_q = 0;
            for (int j = 0; j < 32; ++j) sum_q += std::nearbyint(xr[32 * b + j] / dh);
            const float s = F16BitsToF32(F32ToF16Bits(d * static_cast<float>(sum_q)));
            offset_fix += m[r * nb + b] * (double(s) - double(dh) * sum_q);
          }
          const double want = plain + offset_fix, tol = mag * 2e-6 + 1e-6;
          ASSERT_NEAR(y[t * rows + r], want, tol)
              << GgmlTypeName(type) << " T=" << T << " t=" << t << " r=" << r;
          largest_effect = std::max(largest_effect, std::abs(offset_fix));
          largest_tol = std::max(largest_tol, tol);
        }
      }
    }
    EXPECT_GT(largest_effect, 5 * largest_tol) << GgmlTypeName(type);
  }
}

// The f32 prefill GEMM splits W into per-thread panels whose size depends
// on the thread count; every output must still be bit-identical (sgemm sums
// each output over K in the same order whatever the panel width).
TEST_P(MatMulTest, F32GemmDoesNotDependOnThreadCount) {
  const GgmlType type = GetParam();
  std::mt19937 rng(8);
  const int64_t rows = 700, cols = 256, T = 40;
  std::vector<uint8_t> w = RandomMatrix(type, rows, cols, rng);
  MatrixRef m{w.data(), type, rows, cols, GgmlRowBytes(type, cols)};
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x(T * cols);  // [T][cols]
  for (float& v : x) v = normal(rng);
  const int saved = MaxThreads();
  std::vector<std::vector<float>> y;  // [thread counts][T * rows]
  for (int threads : {1, 2, 3, 4}) {
    SetThreads(threads);
    y.emplace_back(T * rows, NAN);
    MatMul(m, x.data(), cols, T, y.back().data(), rows, GemmType::kF32);
  }
  SetThreads(saved);
  for (size_t i = 1; i < y.size(); ++i) {
    EXPECT_EQ(0, std::memcmp(y[0].data(), y[i].data(), y[0].size() * sizeof(float)))
        << GgmlTypeName(type) << " threads " << i + 1;
  }
}

INSTANTIATE_TEST_SUITE_P(Types, MatMulTest,
                         ::testing::Values(GgmlType::kF32, GgmlType::kF16,
                                           GgmlType::kQ8_0),
                         [](const auto& info) {
                           return std::string(GgmlTypeName(info.param));
                         });

// The int8 prefill GEMM computes every output as the decode GEMV does: a
// batch equals the same tokens multiplied one at a time bit for bit, on
// every target, with strided x and y left untouched between rows.
TEST(MatMulInt8Test, BatchEqualsTokenByToken) {
  std::mt19937 rng(9);
  for (GgmlType type : {GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ4_K,
                        GgmlType::kQ6_K}) {
    SCOPED_TRACE(GgmlTypeName(type));
    const int64_t rows = 37, cols = 512, T = 13, xs = cols + 5, ys = rows + 2;
    std::vector<uint8_t> w = RandomMatrix(type, rows, cols, rng);
    MatrixRef m{w.data(), type, rows, cols, GgmlRowBytes(type, cols)};
    std::normal_distribution<float> normal(0.f, 1.f);
    std::vector<float> x(T * xs);  // [T][xs]
    for (float& v : x) v = normal(rng);
    std::vector<float> one(T * ys, 7.f);  // [T][ys]
    for (int64_t t = 0; t < T; ++t) {
      MatMul(m, x.data() + t * xs, xs, 1, one.data() + t * ys, ys, GemmType::kInt8);
    }
    ForEachTarget([&](int64_t) {
      std::vector<float> batch(T * ys, 7.f);  // [T][ys]
      MatMul(m, x.data(), xs, T, batch.data(), ys, GemmType::kInt8);
      EXPECT_EQ(0, std::memcmp(batch.data(), one.data(), batch.size() * sizeof(float)));
    });
  }
}

// ------------------------------------------------------------------ bf16

// The bf16 GEMM rounds both operands to bfloat16 (8 significant bits, so
// unit roundoff u = 2^-8): |bf16(v) - v| <= u |v|, each product is off by at
// most (2u + u^2) |a b|, and oneDNN adds K of them in f32 (at most K * 2^-24
// of the sum of magnitudes, in any order). Every output is therefore within
//
//   (2u + u^2 + K * 2^-24) * sum_k |a_k b_k|
//
// of the exact dot of the rounded activations a with the dequantised
// weights b. A worst-case bound: a transposed, shifted or mis-strided
// operand, or a weight panel off by a row, exceeds it by orders of magnitude.
//
// Small systematic errors (a scale off by 1%) hide under it, because random
// signs make |y| ~ sqrt(K) times smaller than sum |a b|. Rounding errors are
// independent: round-to-nearest leaves a relative error of mean square u^2/6
// per operand (uniform within half an ulp, mantissas spread over [1, 2)), so
// the typical output error is sqrt(1/3) u sqrt(sum (a b)^2). The RMS of
// error / (u sqrt(sum (a b)^2)) over all outputs must stay near that 0.58;
// a 1% scale error alone puts it near 2.6.
constexpr double kBF16Unit = 1.0 / 256;  // u = 2^-8

double BF16Bound(int64_t K, double abs_sum) {
  const double u = kBF16Unit;
  return (2 * u + u * u + K * std::ldexp(1.0, -24)) * abs_sum + 1e-30;
}

struct BF16Shape {
  int64_t rows, cols, T;
  int64_t x_pad, y_pad;  // extra floats at the end of each x / y row
};

class MatMulBF16Test : public ::testing::TestWithParam<GgmlType> {};

TEST_P(MatMulBF16Test, WithinBF16BoundOfReferenceOnStridedShapes) {
  const GgmlType type = GetParam();
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.f, 1.f);
  // Odd batch sizes; cols multiples of 256 (Q4_K's block); 300 x 4096 makes
  // three 1 MiB bf16 panels (128, 128 and a last one of 44 rows).
  const BF16Shape shapes[] = {{77, 256, 3, 0, 0},
                              {33, 512, 17, 1, 7},
                              {130, 768, 131, 3, 0},
                              {300, 4096, 65, 5, 3}};
  // Whether oneDNN can multiply bf16 here at all (any AVX-512 CPU can);
  // without it MatMul falls back to f32 and there is no bf16 path to test.
  const bool bf16_runs = CanGemmBF16({3, 16, 256, 256, 256, 16});
  for (const BF16Shape& s : shapes) {
    SCOPED_TRACE(std::string(GgmlTypeName(type)) + " rows=" +
                 std::to_string(s.rows) + " cols=" + std::to_string(s.cols) +
                 " T=" + std::to_string(s.T));
    const std::vector<uint8_t> w = RandomMatrix(type, s.rows, s.cols, rng);
    const MatrixRef m{w.data(), type, s.rows, s.cols, GgmlRowBytes(type, s.cols)};
    std::vector<float> wf(s.rows * s.cols);  // [rows][cols] dequantised
    for (int64_t r = 0; r < s.rows; ++r) {
      DequantizeRowRef(type, w.data() + r * m.row_bytes, wf.data() + r * s.cols,
                       s.cols);
    }
    const int64_t x_stride = s.cols + s.x_pad, y_stride = s.rows + s.y_pad;
    // Padding holds values that would wreck any output that read them.
    std::vector<float> x(s.T * x_stride, 1e30f);  // [T][x_stride]
    for (int64_t t = 0; t < s.T; ++t) {
      for (int64_t c = 0; c < s.cols; ++c) x[t * x_stride + c] = normal(rng);
    }
    std::vector<float> y(s.T * y_stride, NAN);     // [T][y_stride]
    std::vector<float> y32(s.T * y_stride, NAN);   // [T][y_stride] f32 GEMM
    MatMul(m, x.data(), x_stride, s.T, y.data(), y_stride, GemmType::kBF16);
    MatMul(m, x.data(), x_stride, s.T, y32.data(), y_stride, GemmType::kF32);
    std::vector<float> xr(s.cols);  // [cols] one row, rounded as ggml does
    double worst = 0, sum_sq = 0;  // worst error / bound; sum of squared
                                   // error / typical rounding error
    int64_t worst_t = 0, worst_r = 0, differ = 0;
    for (int64_t t = 0; t < s.T; ++t) {
      RoundActivations(type, x.data() + t * x_stride, xr.data(), s.cols);
      for (int64_t r = 0; r < s.rows; ++r) {
        double want = 0, mag = 0, sq = 0;
        for (int64_t c = 0; c < s.cols; ++c) {
          const double p = double(wf[r * s.cols + c]) * xr[c];
          want += p;
          mag += std::abs(p);
          sq += p * p;
        }
        const float got = y[t * y_stride + r];
        const double typical = kBF16Unit * std::sqrt(sq) + 1e-30;
        sum_sq += (got - want) * (got - want) / (typical * typical);
        const double ratio = std::abs(got - want) / BF16Bound(s.cols, mag);
        if (!(ratio <= worst)) {  // also catches nan
          worst = std::isnan(ratio) ? INFINITY : ratio;
          worst_t = t;
          worst_r = r;
        }
        differ += got != y32[t * y_stride + r];
      }
      for (int64_t r = s.rows; r < y_stride; ++r) {
        ASSERT_TRUE(std::isnan(y[t * y_stride + r])) << "wrote y padding t=" << t;
      }
    }
    EXPECT_LE(worst, 1.0) << "worst output t=" << worst_t << " r=" << worst_r
                          << ": got " << y[worst_t * y_stride + worst_r]
                          << ", error / bf16 bound = " << worst;
    const double rms = std::sqrt(sum_sq / double(s.T * s.rows));
    EXPECT_LE(rms, 1.0) << "RMS error / (u sqrt(sum (ab)^2)), expected ~0.58";
    std::printf("%s %ldx%ld T=%ld: worst error = %.3f of the bf16 bound, "
                "RMS error = %.2f u sqrt(sum (ab)^2)\n",
                GgmlTypeName(type), long(s.rows), long(s.cols), long(s.T),
                worst, rms);
    if (type == GgmlType::kF32 || !bf16_runs) {
      // F32 weights (and CPUs without a bf16 matmul) take the f32 GEMM.
      EXPECT_EQ(differ, 0);
    } else {
      // Rounded operands must change some outputs: the bf16 path really ran.
      EXPECT_GT(differ, 0);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, MatMulBF16Test,
                         ::testing::Values(GgmlType::kF32, GgmlType::kF16,
                                           GgmlType::kBF16, GgmlType::kQ8_0,
                                           GgmlType::kQ4_K),
                         [](const auto& info) {
                           return std::string(GgmlTypeName(info.param));
                         });

TEST(PrefillGemmTest, FollowsEnvironmentAndCpu) {
  StatusOr<std::optional<GemmType>> env = GemmTypeFromEnv();
  ASSERT_TRUE(env.ok()) << env.status().message();
  // The default: int8 on every CPU (one arithmetic everywhere).
  GemmType want = GemmType::kInt8;
  if (env->has_value() && **env == GemmType::kInt8) want = GemmType::kInt8;
  if (env->has_value() && **env == GemmType::kF32) want = GemmType::kF32;
  if (env->has_value() && **env == GemmType::kBF16) {
    want = HasNativeBF16() ? GemmType::kBF16 : GemmType::kF32;
  }
  EXPECT_EQ(PrefillGemm(), want);
  std::printf("prefill GEMM: %s (native bf16: %s)\n",
              GemmTypeName(PrefillGemm()), HasNativeBF16() ? "yes" : "no");
}

}  // namespace
}  // namespace skv
