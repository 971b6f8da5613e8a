// Helpers shared by the scalar reference (quant_ref.cc), the Highway kernels
// (quant.cc) and their tests. Not part of the public API.
#pragma once

#include <cstdint>
#include <cstring>

#include "simd/quant.h"

namespace skv {
namespace quant_internal {

// IEEE half -> f32, exact (subnormals, inf, nan keep their meaning). Inline
// because every quantised block starts by converting its fp16 scales.
inline float HalfToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24 is exact in f32.
    const float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
    std::memcpy(&bits, &v, 4);
    bits |= sign;
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf, or nan keeping payload
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Reads a little-endian IEEE half (unaligned) as f32.
inline float LoadF16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return HalfToF32(h);
}

float BF16BitsToF32(uint16_t h);
// Round to nearest even; nan stays a (quiet) nan, as ggml does.
uint16_t F32ToBF16Bits(float f);

// Q4_K / Q5_K: 12 packed bytes -> 8 six-bit scales and 8 six-bit mins
// (ggml's get_scale_min_k4 for j = 0..7).
void UnpackScaleMinK4(const uint8_t* scales, uint8_t* sc, uint8_t* m);

// Q3_K: 12 packed bytes -> 16 signed scales (six bits, minus 32).
void UnpackScalesQ3K(const uint8_t* packed, int8_t* scales);

}  // namespace quant_internal
}  // namespace skv
