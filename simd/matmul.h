// Y = X * W^T for a weight matrix stored in any computable GGML format.
// Small batches (decode) use the quantised GEMV kernels, which read each
// weight byte once: integer dot products on 8-bit activations where the type
// has them (quant_dot.h), f32 FMAs otherwise; larger batches (prefill)
// dequantise row panels of W into f32 and hand them to oneDNN's GEMM.
#pragma once

#include <cstdint>

#include "simd/ggml_types.h"

namespace skv {

struct MatrixRef {
  const void* data = nullptr;  // [rows][row_bytes]
  GgmlType type = GgmlType::kF32;
  int64_t rows = 0;   // output features
  int64_t cols = 0;   // input features
  int64_t row_bytes = 0;
};

// x: [T][w.cols] (row stride x_stride), y: [T][w.rows] (row stride y_stride).
void MatMul(const MatrixRef& w, const float* x, int64_t x_stride, int64_t T,
            float* y, int64_t y_stride);

}  // namespace skv
