#include "simd/activation_round.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "simd/quant.h"

namespace skv {
namespace {

// Round half to even, as _mm256_round_ps(_MM_ROUND_NEAREST) and ggml's
// nearest_int() do.
inline float RoundEven(float v) { return std::nearbyint(v); }

// Round trip of whole blocks through a quantiser: out = d * q.
template <int kBlock, float (*Quantize)(const float*, float*)>
void RoundBlocks(const float* x, float* out, int64_t n) {
  float q[kBlock];  // [kBlock]
  for (int64_t b = 0; b < n; b += kBlock) {
    const float d = Quantize(x + b, q);
    for (int j = 0; j < kBlock; ++j) out[b + j] = d * q[j];
  }
}

}  // namespace

float QuantizeBlockQ8_0(const float* x, float* q) {
  // Scale amax/127 stored as f16, q = round(x * 127 / amax) (ggml's AVX2
  // quantize_row_q8_0 / q8_1).
  float amax = 0.f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::abs(x[j]));
  const float d = F16BitsToF32(F32ToF16Bits(amax / 127.f));
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  for (int j = 0; j < 32; ++j) q[j] = RoundEven(x[j] * id);
  return d;
}

void Q8_1BlockSumDeltas(const float* x, int64_t n, float* delta) {
  SKV_CHECK(n % 32 == 0);
  float q[32];  // [32]
  for (int64_t b = 0; b < n / 32; ++b) {
    const float* xb = x + 32 * b;
    const float d_rounded = QuantizeBlockQ8_0(xb, q);
    float amax = 0.f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::abs(xb[j]));
    const float d = amax / 127.f;  // quantize_row_q8_1: s uses this, not f16(d)
    float sum_q = 0.f;             // |sum| <= 32 * 127: exact in f32
    for (int j = 0; j < 32; ++j) sum_q += q[j];
    const float s = F16BitsToF32(F32ToF16Bits(d * sum_q));
    delta[b] = s - d_rounded * sum_q;
  }
}

float QuantizeBlockQ8_K(const float* x, float* q) {
  // f32 scale max/-127 with the sign of the largest magnitude, q = min(127,
  // round(x * -127 / max)) (quantize_row_q8_K_ref).
  float amax = 0.f, max = 0.f;
  for (int j = 0; j < 256; ++j) {
    const float ax = std::abs(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  if (amax == 0.f) {
    // ggml writes zeros here, even for nan inputs that never won the
    // comparison above.
    for (int j = 0; j < 256; ++j) q[j] = 0.f;
    return 0.f;
  }
  const float iscale = -127.f / max;
  for (int j = 0; j < 256; ++j) q[j] = std::min(127.f, RoundEven(iscale * x[j]));
  return 1.f / iscale;
}

GgmlType ActivationType(GgmlType weight_type) {
  switch (weight_type) {
    case GgmlType::kQ4_0:
    case GgmlType::kQ5_0:
    case GgmlType::kQ8_0:
      return GgmlType::kQ8_0;
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_1:
      return GgmlType::kQ8_1;
    case GgmlType::kQ2_K:
    case GgmlType::kQ3_K:
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ6_K:
      return GgmlType::kQ8_K;
    case GgmlType::kF16:
      return GgmlType::kF16;
    case GgmlType::kBF16:
      return GgmlType::kBF16;
    default:
      return GgmlType::kF32;
  }
}

void RoundActivations(GgmlType weight_type, const float* x, float* out,
                      int64_t n) {
  switch (ActivationType(weight_type)) {
    case GgmlType::kQ8_0:
    case GgmlType::kQ8_1:  // same values; Q8_1 only adds a block sum
      SKV_CHECK(n % 32 == 0);
      RoundBlocks<32, QuantizeBlockQ8_0>(x, out, n);
      return;
    case GgmlType::kQ8_K:
      SKV_CHECK(n % 256 == 0);
      RoundBlocks<256, QuantizeBlockQ8_K>(x, out, n);
      return;
    case GgmlType::kF16:
    case GgmlType::kBF16: {
      // Through the vector conversions (bit-equal to the scalar ones on
      // every target, quant_test), a stack chunk at a time: the scalar
      // round trip was 6% of an F16 prefill.
      const bool f16 = ActivationType(weight_type) == GgmlType::kF16;
      constexpr int64_t kChunk = 1024;
      uint16_t bits[kChunk];  // [kChunk] 16-bit floats
      for (int64_t i = 0; i < n; i += kChunk) {
        const int64_t m = std::min(kChunk, n - i);
        if (f16) {
          F32ToF16(x + i, bits, m);
          F16ToF32(bits, out + i, m);
        } else {
          F32ToBF16(x + i, bits, m);
          BF16ToF32(bits, out + i, m);
        }
      }
      return;
    }
    default:
      if (out != x) std::memcpy(out, x, n * sizeof(float));
      return;
  }
}

}  // namespace skv
