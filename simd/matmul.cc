#include "simd/matmul.h"

#include <dnnl.h>

#include <algorithm>
#include <vector>

#include "base/check.h"
#include "base/parallel.h"
#include "simd/activation_round.h"
#include "simd/quant.h"
#include "simd/quant_dot.h"

namespace skv {
namespace {

// Batches up to this size run as GEMVs on the quantised rows: at these sizes
// the product is bound by reading the weights, which GEMV does once per row.
constexpr int64_t kGemvMaxBatch = 2;
// Target size of a dequantised f32 panel: large enough to amortise oneDNN's
// call overhead, small enough to stay in L2/L3 while the GEMM consumes it.
constexpr int64_t kPanelFloats = 1 << 18;

void Sgemm(const float* x, int64_t x_stride, int64_t T, const float* w,
           int64_t w_stride, int64_t rows, int64_t cols, float* y,
           int64_t y_stride) {
  // Row-major: y[T][rows] = x[T][cols] * w[rows][cols]^T.
  const dnnl_status_t st = dnnl_sgemm('N', 'T', T, rows, cols, 1.0f, x,
                                      x_stride, w, w_stride, 0.0f, y, y_stride);
  SKV_CHECK(st == dnnl_success);
}

// Dequantises row panels of W into f32 and multiplies them with oneDNN.
void DequantizedGemm(const MatrixRef& w, const float* x, int64_t x_stride,
                     int64_t T, float* y, int64_t y_stride);

// Decode GEMV with integer dot products: x is quantised to the weights'
// 8-bit activation type (the values RoundActivations produces) and each row
// is multiplied in int32 lanes, as llama.cpp does. Returns false (nothing
// written) where there is no integer kernel for the type or x is not finite
// (the float path then propagates nan/inf).
bool IntegerGemv(const MatrixRef& w, const float* x, int64_t x_stride,
                 int64_t T, float* y, int64_t y_stride) {
  if (!HasIntegerDot(w.type)) return false;
  // Reused across calls: one decode step makes a few hundred of these.
  thread_local std::vector<QuantizedActivations> xq;  // [T]
  if (static_cast<int64_t>(xq.size()) < T) xq.resize(T);
  for (int64_t t = 0; t < T; ++t) {
    QuantizeActivations(w.type, x + t * x_stride, w.cols, &xq[t]);
    if (!xq[t].finite) return false;
  }
  for (int64_t t = 0; t < T; ++t) {
    MatVecQ8(w.type, w.data, w.row_bytes, xq[t], y + t * y_stride, w.rows);
  }
  return true;
}

}  // namespace

void MatMul(const MatrixRef& w, const float* x, int64_t x_stride, int64_t T,
            float* y, int64_t y_stride) {
  SKV_CHECK(w.data != nullptr && w.rows > 0 && w.cols > 0);
  if (T <= 0) return;
  if (T <= kGemvMaxBatch && IntegerGemv(w, x, x_stride, T, y, y_stride)) return;
  // Round the activations to the weights' dot-product type first, exactly as
  // llama.cpp does (see activation_round.h).
  std::vector<float> xr;  // [T][cols]
  if (ActivationType(w.type) != GgmlType::kF32) {
    xr.resize(T * w.cols);
    ParallelFor(T, [&](int64_t t) {
      RoundActivations(w.type, x + t * x_stride, xr.data() + t * w.cols, w.cols);
    });
    x = xr.data();
    x_stride = w.cols;
  }
  if (T <= kGemvMaxBatch) {
    for (int64_t t = 0; t < T; ++t) {
      MatVec(w.type, w.data, w.row_bytes, x + t * x_stride, w.cols,
             y + t * y_stride, w.rows);
    }
  } else {
    DequantizedGemm(w, x, x_stride, T, y, y_stride);
  }
}

namespace {

void DequantizedGemm(const MatrixRef& w, const float* x, int64_t x_stride,
                     int64_t T, float* y, int64_t y_stride) {
  if (w.type == GgmlType::kF32) {
    Sgemm(x, x_stride, T, static_cast<const float*>(w.data),
          w.row_bytes / static_cast<int64_t>(sizeof(float)), w.rows, w.cols, y,
          y_stride);
    return;
  }
  const int64_t panel_rows =
      std::clamp<int64_t>(kPanelFloats / w.cols, 16, w.rows);
  std::vector<float> panel(panel_rows * w.cols);  // [panel_rows][cols]
  const auto* base = static_cast<const uint8_t*>(w.data);
  for (int64_t r0 = 0; r0 < w.rows; r0 += panel_rows) {
    const int64_t n = std::min(panel_rows, w.rows - r0);
    ParallelRanges(n, 8, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        DequantizeRow(w.type, base + (r0 + r) * w.row_bytes,
                      panel.data() + r * w.cols, w.cols);
      }
    });
    Sgemm(x, x_stride, T, panel.data(), w.cols, n, w.cols, y + r0, y_stride);
  }
}

}  // namespace
}  // namespace skv
