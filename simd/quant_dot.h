// Decode GEMV with integer dot products, as llama.cpp's CPU backend does it:
// the activations are quantised once per call to 8-bit blocks (the same
// values RoundActivations produces), and each weight block is multiplied with
// them in int32 lanes, then scaled by d_w * d_x and summed in f32. The values
// multiplied are those of the float path (MatVec on RoundActivations(x));
// only the order of the f32 sums differs.
//
// One arithmetic. Every integer kernel (this GEMV on every Highway target,
// the prefill GEMM's panel kernels in quant_gemm.h, the scalar reference)
// computes an output the same way, so their results are equal bit for bit
// whatever the CPU, the SIMD target or the thread count:
//   acc = 0
//   for each block b in order (32 elements, or a K-quant super-block of 256):
//     S_b = the block's exact integer sum of w * x (sub-block scales included)
//     acc = fma(float(S_b), f32(d_w) * d_x, acc)        (FusedBlockTerm)
//     Q4_K / Q5_K also: acc = fma(-float(M_b), f32(dmin_w) * d_x, acc), M_b
//     the block's exact sum of mins times activation sums
//   y = acc
// Integer sums are exact in any order; the f32 steps are one rounding each
// (a fused multiply-add) in a fixed order. Targets without an FMA
// instruction (SSE4 and below) take std::fma, which rounds once too.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "simd/ggml_types.h"

namespace skv {

// x rounded to the 8-bit blocks of ActivationType(weight_type).
struct QuantizedActivations {
  GgmlType type = GgmlType::kF32;  // kQ8_0, kQ8_1 or kQ8_K
  int64_t n = 0;
  // False if x held nan/inf: the int8 values are then meaningless and the
  // caller must use the float path, which propagates them.
  bool finite = true;
  std::vector<int8_t> q;       // [n]
  std::vector<int16_t> q16;    // [n] q widened once for the kernels
  std::vector<float> d;        // [n / block] block scales
  // Sums of q over each run of 16 (Q8_K only: the K-quant mins and offsets
  // need per-sub-block activation sums).
  std::vector<int16_t> bsums;  // [n / 16]
  // Q8_0 activations only: -offset * (sum of q over each run of 4), where
  // offset makes the weight codes unsigned (128 for Q8_0, 8 for Q4_0, 16 for
  // Q5_0). Byte-dot kernels that multiply w + offset start their int32 lanes
  // from it, so the offset cancels exactly.
  std::vector<int32_t> bias4;  // [n / 4]
};

// One step of the arithmetic above: acc + sum * scale with one rounding.
inline float FusedBlockTerm(int32_t sum, float scale, float acc) {
  return std::fma(static_cast<float>(sum), scale, acc);
}

// True for the weight types with an integer dot kernel (Q4_0, Q5_0, Q8_0,
// Q4_K, Q5_K, Q6_K).
bool HasIntegerDot(GgmlType weight_type);

// Quantises x[0..n) for a dot with weights of `weight_type` (one with
// HasIntegerDot); n is a multiple of the activation block size. Reuses out's
// buffers. QuantizeActivations is the Highway version (quant_activations.cc),
// equal bit for bit to the scalar QuantizeActivationsRef.
void QuantizeActivations(GgmlType weight_type, const float* x, int64_t n,
                         QuantizedActivations* out);
void QuantizeActivationsRef(GgmlType weight_type, const float* x, int64_t n,
                            QuantizedActivations* out);

// Fills out's q16, bsums (Q8_K) and bias4 from its type, n and codes q.
void FillActivationSums(GgmlType weight_type, QuantizedActivations* out);

// The offset that makes `weight_type`'s codes unsigned in the byte-dot
// kernels (128 for Q8_0, 8 for Q4_0, 16 for Q5_0, 0 otherwise): bias4 holds
// -offset * (sum of each 4 activation codes).
int ActivationOffset(GgmlType weight_type);

// out[0..n) = d * q: equal bit for bit to RoundActivations(weight_type, x).
void DequantizeActivations(const QuantizedActivations& a, float* out);

// sum_i w_i * x_i for one row of `weight_type` with integer block sums, in
// the one arithmetic above. DotQ8Ref is the scalar reference; DotQ8
// dispatches to the best Highway target; both give the same bits.
float DotQ8Ref(GgmlType weight_type, const void* row,
               const QuantizedActivations& x);
float DotQ8(GgmlType weight_type, const void* row,
            const QuantizedActivations& x);

// y[r] = DotQ8(row r of w, x) for r in [0, rows); rows are `row_bytes` apart.
// Multithreaded over row ranges; each row is computed by one thread, so the
// result does not depend on the thread count (nor on the target: DotQ8Ref's
// bits).
void MatVecQ8(GgmlType weight_type, const void* w, int64_t row_bytes,
              const QuantizedActivations& x, float* y, int64_t rows);

// Rows [r0, r1) of MatVecQ8 on the calling thread (y indexed from row 0).
void MatVecQ8Rows(GgmlType weight_type, const void* w, int64_t row_bytes,
                  const QuantizedActivations& x, float* y, int64_t r0,
                  int64_t r1);

// Name of the Highway target the integer dot kernels dispatch to (it can
// differ from ActiveSimdTarget(): this file also compiles AVX3_DL for VNNI).
const char* IntegerDotTarget();

}  // namespace skv
