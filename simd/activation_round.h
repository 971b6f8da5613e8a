// Activation rounding as llama.cpp's CPU backend does it. Before a dot
// product with quantised weights, ggml converts the f32 activations to the
// weights' "vec_dot_type" (8-bit blocks for quantised weights, f16/bf16 for
// 16-bit weights) and multiplies integers. Reproducing that rounding makes our
// logits match the reference implementation users compare against, and the
// same 8-bit activations are what integer dot-product kernels consume.
#pragma once

#include <cstdint>

#include "simd/ggml_types.h"

namespace skv {

// ggml's vec_dot_type for weights of `weight_type`: Q8_0 for Q4_0, Q5_0 and
// Q8_0; Q8_1 for Q4_1 and Q5_1; Q8_K for the K-quants; F16/BF16 for F16/BF16;
// F32 for F32 (no rounding).
GgmlType ActivationType(GgmlType weight_type);

// out[0..n) = the values of x after a round trip through
// ActivationType(weight_type): what ggml's dot product really multiplies.
// n is a multiple of the weights' block size; out may alias x.
void RoundActivations(GgmlType weight_type, const float* x, float* out,
                      int64_t n);

// The quantisers behind RoundActivations, shared with the integer dot path
// (quant_dot.h) so both see the same 8-bit values. Each takes one block of x
// (32 for Q8_0/Q8_1, 256 for Q8_K), writes the rounded integers as floats to
// q[0..block) (|q| <= 127, or nan where x is not finite) and returns the
// block scale d; the block's dequantised values are d * q[j].
float QuantizeBlockQ8_0(const float* x, float* q);
float QuantizeBlockQ8_K(const float* x, float* q);

// Q8_1's block sums, as ggml's Q4_1 / Q5_1 dot products use them. The
// weights' offset m multiplies the block's stored sum s = f16(d * sum(q)),
// computed from the unrounded f32 scale d, not the sum of the rounded
// activations f16(d) * sum(q) that a dot with RoundActivations' values
// yields. For each 32-block b of x[0..n), delta[b] = s - f16(d) * sum(q):
// adding m * delta[b] turns the second into the first (about 2^-11 of the
// min term per block, which is a large part of these types' products).
void Q8_1BlockSumDeltas(const float* x, int64_t n, float* delta);

}  // namespace skv
