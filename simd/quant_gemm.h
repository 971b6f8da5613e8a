// Prefill GEMM with integer dot products: Y = X * W^T for quantised weights
// and 8-bit quantised activations (quant_dot.h), as llama.cpp's CPU backend
// multiplies them. Weight rows are repacked per call into panels that put
// one code of each row in each int32 lane (quant_gemm_panel-inl.h), so every
// scale is a per-lane multiply. Two kernel families:
//   - AVX-512 with VNNI (quant_gemm_vnni-inl.h): 16-row panels, vpdpbusd.
//   - AVX2, and AVX-512 without VNNI (quant_gemm_avx2-inl.h): 8-row panels,
//     pmaddubsw + pmaddwd.
// SSE4 and below run the decode GEMV's rows per token (in cache-sized row
// ranges). All of them follow quant_dot.h's "one arithmetic": the result is
// the same bits as MatVecQ8 on every target and thread count, so a CPU
// with or without AVX-512 makes the same decisions from the same input.
#pragma once

#include <cstdint>

#include "simd/ggml_types.h"
#include "simd/quant_dot.h"

namespace skv {

// True for the weight types the integer GEMM multiplies (those with
// HasIntegerDot: Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K), on every target.
bool HasIntegerGemm(GgmlType weight_type);

// y[t * y_stride + r] = DotQ8(row r of w, x[t]) for t in [0, T), r in
// [0, rows). x: [T] activations quantised for `weight_type`, all of the same
// length (the weights' columns) and all finite; rows are `row_bytes` apart.
// Multithreaded over row panels; each output is computed by one thread in
// the one fixed order, so the result equals MatVecQ8 per token bit for bit
// on every target and thread count.
void MatMulQ8(GgmlType weight_type, const void* w, int64_t row_bytes,
              const QuantizedActivations* x, int64_t T, float* y,
              int64_t y_stride, int64_t rows);

}  // namespace skv
