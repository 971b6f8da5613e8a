#include "simd/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "simd/activation_round.h"
#include "simd/quant.h"

namespace skv {
namespace {

// Builds a [rows][cols] matrix in `type` with random content: F32/F16 from
// random values, Q8_0 blocks (f16 scale + 32 int8) from random bytes.
std::vector<uint8_t> RandomMatrix(GgmlType type, int64_t rows, int64_t cols,
                                  std::mt19937& rng) {
  const int64_t row_bytes = GgmlRowBytes(type, cols);
  std::vector<uint8_t> data(rows * row_bytes);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = data.data() + r * row_bytes;
    for (int64_t c = 0; c < cols; ++c) {
      if (type == GgmlType::kF32) {
        reinterpret_cast<float*>(row)[c] = normal(rng);
      } else if (type == GgmlType::kF16) {
        reinterpret_cast<uint16_t*>(row)[c] = F32ToF16Bits(normal(rng));
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
  }
  return data;
}

class MatMulTest : public ::testing::TestWithParam<GgmlType> {};

TEST_P(MatMulTest, MatchesDequantisedReferenceForAllBatchSizes) {
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
    MatMul(m, x.data(), cols, T, y.data(), rows);
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

INSTANTIATE_TEST_SUITE_P(Types, MatMulTest,
                         ::testing::Values(GgmlType::kF32, GgmlType::kF16,
                                           GgmlType::kQ8_0),
                         [](const auto& info) {
                           return std::string(GgmlTypeName(info.param));
                         });

}  // namespace
}  // namespace skv
