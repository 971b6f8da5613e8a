// Prefill GEMM with integer dot products: Y = X * W^T for quantised weights
// and 8-bit quantised activations (quant_dot.h), tiled over rows and tokens
// so that each weight block is decoded once per tile and multiplied with the
// activation blocks of several tokens (llamafile's tinyBLAS idea). Every
// (row, token) result is computed with the same int32 block sums, the same
// per-block scale products and the same f32 accumulation order as
// MatVecQ8's row kernel, so prefill and decode agree bit for bit.
//
// Speed, measured with thread CPU time on one core of the 2-core
// AVX512-VNNI box (128 tokens x 512 rows x 2048): the kernel alone reaches
// 72 (Q4_K), 99 (Q6_K), 75 (Q8_0), 51 (Q4_0) GOP/s against 64-77 GFLOP/s for
// the dequantise + sgemm path, and quantising the activations per MatMul
// eats the margin. Known costs: the K-quant mins are reduced per (row,
// token) with a horizontal sum, and the 32-block types convert and scale
// every block per (row, token) in f32 (needed to match MatVecQ8 exactly).
// So matmul.cc uses it only where STRUCTKV_GEMM=int8 asks for it.
#pragma once

#include <cstdint>

#include "simd/ggml_types.h"
#include "simd/quant_dot.h"

namespace skv {

// True for the weight types with a tiled integer kernel on x86 (AVX2 or
// better): Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K. On other targets MatMulQ8
// still works (one MatVecQ8 per token).
bool HasIntegerGemm(GgmlType weight_type);

// y[t * y_stride + r] = DotQ8(row r of w, x[t]) for t in [0, T), r in
// [0, rows). x: [T] activations quantised for `weight_type`, all of the same
// length (the weights' columns) and all finite; rows are `row_bytes` apart.
// Multithreaded over row ranges; each output is computed by one thread in a
// fixed order, so the result does not depend on the thread count and equals
// MatVecQ8 bit for bit.
void MatMulQ8(GgmlType weight_type, const void* w, int64_t row_bytes,
              const QuantizedActivations* x, int64_t T, float* y,
              int64_t y_stride, int64_t rows);

}  // namespace skv
