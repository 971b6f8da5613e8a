#include "simd/activation_round.h"

#include <cmath>
#include <cstring>

#include "base/check.h"
#include "simd/quant.h"

namespace skv {
namespace {

// Round half to even, as _mm256_round_ps(_MM_ROUND_NEAREST) and ggml's
// nearest_int() do.
inline float RoundEven(float v) { return std::nearbyint(v); }

// Q8_0 / Q8_1 blocks of 32: scale amax/127 stored as f16, q = round(x * 127 /
// amax) (ggml's AVX2 quantize_row_q8_0 / q8_1).
void RoundQ8_0(const float* x, float* out, int64_t n) {
  for (int64_t b = 0; b < n; b += 32) {
    float amax = 0.f;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::abs(x[b + j]));
    const float d = F16BitsToF32(F32ToF16Bits(amax / 127.f));
    const float id = amax != 0.f ? 127.f / amax : 0.f;
    for (int j = 0; j < 32; ++j) out[b + j] = d * RoundEven(x[b + j] * id);
  }
}

// Q8_K blocks of 256: f32 scale max/-127 with the sign of the largest
// magnitude, q = min(127, round(x * -127 / max)) (quantize_row_q8_K_ref).
void RoundQ8_K(const float* x, float* out, int64_t n) {
  for (int64_t b = 0; b < n; b += 256) {
    float amax = 0.f, max = 0.f;
    for (int j = 0; j < 256; ++j) {
      const float ax = std::abs(x[b + j]);
      if (ax > amax) {
        amax = ax;
        max = x[b + j];
      }
    }
    if (amax == 0.f) {
      for (int j = 0; j < 256; ++j) out[b + j] = 0.f;
      continue;
    }
    const float iscale = -127.f / max;
    const float d = 1.f / iscale;
    for (int j = 0; j < 256; ++j) {
      out[b + j] = d * std::min(127.f, RoundEven(iscale * x[b + j]));
    }
  }
}

}  // namespace

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
      RoundQ8_0(x, out, n);
      return;
    case GgmlType::kQ8_K:
      SKV_CHECK(n % 256 == 0);
      RoundQ8_K(x, out, n);
      return;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) out[i] = F16BitsToF32(F32ToF16Bits(x[i]));
      return;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        F32ToBF16(x + i, &h, 1);
        BF16ToF32(&h, out + i, 1);
      }
      return;
    default:
      if (out != x) std::memcpy(out, x, n * sizeof(float));
      return;
  }
}

}  // namespace skv
