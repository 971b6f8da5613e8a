// Prefill GEMM with integer dot products: Y = X * W^T for quantised weights
// and 8-bit quantised activations (quant_dot.h), as llama.cpp's CPU backend
// multiplies them. Two kernel families:
//   - AVX-512 with VNNI (quant_gemm_vnni-inl.h): panels of 16 weight rows
//     are repacked per call so that one vpdpbusd adds 4 products into each
//     of 16 row lanes; scales, mins and offsets are per-lane multiplies.
//     Every (row, token) block sum is exact in int32; only the order of the
//     f32 sums over blocks differs from MatVecQ8 (agreement to rounding).
//     About twice the dequantise + sgemm path's rate (bench/gemm_bench.cc
//     BM_PrefillMatMul *_int8 vs *_f32), so it is the default prefill GEMM
//     where the CPU has it (HasFastIntegerGemm, PrefillGemm in matmul.h).
//   - AVX2 and AVX-512 without VNNI (quant_gemm_x86-inl.h): tiles of 2 rows x
//     4 tokens with the row kernels' arithmetic, bit for bit MatVecQ8's;
//     no faster than sgemm there, so only used where STRUCTKV_GEMM=int8.
#pragma once

#include <cstdint>

#include "simd/ggml_types.h"
#include "simd/quant_dot.h"

namespace skv {

// True for the weight types with a tiled integer kernel on x86 (AVX2 or
// better): Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K. On other targets MatMulQ8
// still works (one MatVecQ8 per token).
bool HasIntegerGemm(GgmlType weight_type);

// True where the dispatched target has the VNNI panel kernels (AVX3_DL):
// the integer GEMM is then faster than dequantise + sgemm.
bool HasFastIntegerGemm();

// y[t * y_stride + r] = DotQ8(row r of w, x[t]) for t in [0, T), r in
// [0, rows). x: [T] activations quantised for `weight_type`, all of the same
// length (the weights' columns) and all finite; rows are `row_bytes` apart.
// Multithreaded over row ranges; each output is computed by one thread in a
// fixed order, so the result does not depend on the thread count. It equals
// MatVecQ8 bit for bit on the tiled kernels and to rounding (order of the
// f32 block sums) on the panel kernels.
void MatMulQ8(GgmlType weight_type, const void* w, int64_t row_bytes,
              const QuantizedActivations* x, int64_t T, float* y,
              int64_t y_stride, int64_t rows);

}  // namespace skv
