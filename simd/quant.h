// Dequantisation and dot products on GGML-quantised rows. Every function has a
// scalar reference (`...Ref`) used by the tests; the unsuffixed versions
// dispatch once per call to the best Highway target of this CPU.
#pragma once

#include <cstdint>

#include "simd/ggml_types.h"

namespace skv {

// dst[0..n) = dequantised src row; n is a multiple of the type's block size.
void DequantizeRowRef(GgmlType type, const void* src, float* dst, int64_t n);
void DequantizeRow(GgmlType type, const void* src, float* dst, int64_t n);

// dst[0..n) = the dequantised row rounded to bfloat16 bits (nearest even, as
// F32ToBF16): the weights of the bf16 prefill GEMM (matmul.cc), written
// without an f32 row in between. The Ref version is, by definition,
// DequantizeRowRef followed by that rounding; the dispatched one is bit-equal.
void DequantizeRowBF16Ref(GgmlType type, const void* src, uint16_t* dst,
                          int64_t n);
void DequantizeRowBF16(GgmlType type, const void* src, uint16_t* dst,
                       int64_t n);

// Returns sum_i dequant(row)[i] * x[i]. The reference accumulates in double
// (it is the tests' oracle); DotRow accumulates in f32 lanes.
float DotRowRef(GgmlType type, const void* row, const float* x, int64_t n);
float DotRow(GgmlType type, const void* row, const float* x, int64_t n);

// y[r] = dot(row r of w, x) for r in [0, rows); w rows are `row_bytes` apart,
// x: [n]. Multithreaded over rows via base/parallel.h.
void MatVec(GgmlType type, const void* w, int64_t row_bytes, const float* x,
            int64_t n, float* y, int64_t rows);

// Plain conversions between f32 and 16-bit floats (IEEE half, bfloat16);
// f16/bf16 values are passed as raw uint16_t bits.
void F16ToF32(const uint16_t* src, float* dst, int64_t n);
void F32ToF16(const float* src, uint16_t* dst, int64_t n);
void BF16ToF32(const uint16_t* src, float* dst, int64_t n);
void F32ToBF16(const float* src, uint16_t* dst, int64_t n);
float F16BitsToF32(uint16_t h);
uint16_t F32ToF16Bits(float f);

// Name of the Highway target the dispatched kernels use on this CPU.
const char* ActiveSimdTarget();

}  // namespace skv
