// Scalar reference dequantisation for the GGML block formats. The formulas and
// the order of float operations follow ggml's dequantize_row_* (and gguf-py,
// which computes the same products in float32), so results are bit-exact
// against both. These are the oracles for the Highway kernels in quant.cc.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "simd/quant.h"
#include "simd/quant_internal.h"

namespace skv {

float F16BitsToF32(uint16_t h) { return quant_internal::HalfToF32(h); }

uint16_t F32ToF16Bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  x &= 0x7FFFFFFFu;
  if (x >= 0x7F800000u) {  // inf stays inf; nan becomes a quiet nan
    return x == 0x7F800000u ? (sign | 0x7C00)
                            : (sign | 0x7E00 | ((x >> 13) & 0x3FF));
  }
  if (x >= 0x477FF000u) return sign | 0x7C00;  // >= 65520 rounds to inf
  if (x < 0x38800000u) {
    // Below the smallest normal half (2^-14): adding 0.5f puts the half's
    // subnormal ulp (2^-24) at the last f32 mantissa bit, so the FPU does the
    // round-to-nearest-even for us.
    float a;
    std::memcpy(&a, &x, 4);
    a += 0.5f;
    uint32_t r;
    std::memcpy(&r, &a, 4);
    return sign | static_cast<uint16_t>(r - 0x3F000000u);
  }
  // Normal: rebias the exponent and round the 13 dropped bits to even.
  const uint32_t odd = (x >> 13) & 1;
  x += 0xC8000FFFu + odd;  // (15 - 127) << 23, plus the rounding bias
  return sign | static_cast<uint16_t>(x >> 13);
}

namespace quant_internal {

float BF16BitsToF32(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t F32ToBF16Bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) {  // nan: force quiet, keep the sign
    return static_cast<uint16_t>((x >> 16) | 0x40);
  }
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1)) >> 16);
}

void UnpackScaleMinK4(const uint8_t* scales, uint8_t* sc, uint8_t* m) {
  // 12 bytes hold 8 six-bit scales and 8 six-bit mins: the low 6 bits of
  // bytes 0..7 are sc[0..3], m[0..3]; bytes 8..11 hold the low nibbles of
  // sc[4..7] and m[4..7], whose top two bits sit in bits 6..7 of bytes 0..7.
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      sc[j] = scales[j] & 63;
      m[j] = scales[j + 4] & 63;
    } else {
      sc[j] = (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);
      m[j] = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
    }
  }
}

void UnpackScalesQ3K(const uint8_t* packed, int8_t* scales) {
  // 16 six-bit scales: low nibbles in bytes 0..7 (scale j and j+8 share byte
  // j), top two bits in bytes 8..11 (scale j uses bits 2*(j/4) of byte 8+j%4).
  for (int j = 0; j < 16; ++j) {
    const int low = (packed[j % 8] >> (4 * (j / 8))) & 0xF;
    const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    scales[j] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

}  // namespace quant_internal

namespace {

using quant_internal::BF16BitsToF32;
using quant_internal::LoadF16;

// One block each; `y` receives block_size floats.
void DequantQ4_0(const uint8_t* b, float* y) {
  const float d = LoadF16(b);
  const uint8_t* qs = b + 2;  // [16] element j in the low nibble, j+16 high
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>((qs[j] & 0xF) - 8) * d;
    y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}

void DequantQ4_1(const uint8_t* b, float* y) {
  const float d = LoadF16(b);
  const float m = LoadF16(b + 2);
  const uint8_t* qs = b + 4;  // [16]
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(qs[j] & 0xF) * d + m;
    y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

void DequantQ5_0(const uint8_t* b, float* y) {
  const float d = LoadF16(b);
  uint32_t qh;  // bit j is the fifth bit of element j
  std::memcpy(&qh, b + 2, 4);
  const uint8_t* qs = b + 6;  // [16]
  for (int j = 0; j < 16; ++j) {
    const int h0 = (qh >> j) & 1;
    const int h1 = (qh >> (j + 16)) & 1;
    y[j] = static_cast<float>(((qs[j] & 0xF) | (h0 << 4)) - 16) * d;
    y[j + 16] = static_cast<float>(((qs[j] >> 4) | (h1 << 4)) - 16) * d;
  }
}

void DequantQ5_1(const uint8_t* b, float* y) {
  const float d = LoadF16(b);
  const float m = LoadF16(b + 2);
  uint32_t qh;
  std::memcpy(&qh, b + 4, 4);
  const uint8_t* qs = b + 8;  // [16]
  for (int j = 0; j < 16; ++j) {
    const int h0 = (qh >> j) & 1;
    const int h1 = (qh >> (j + 16)) & 1;
    y[j] = static_cast<float>((qs[j] & 0xF) | (h0 << 4)) * d + m;
    y[j + 16] = static_cast<float>((qs[j] >> 4) | (h1 << 4)) * d + m;
  }
}

void DequantQ8_0(const uint8_t* b, float* y) {
  const float d = LoadF16(b);
  const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);  // [32]
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(qs[j]) * d;
}

void DequantQ2_K(const uint8_t* b, float* y) {
  const uint8_t* scales = b;    // [16] low nibble scale, high nibble min
  const uint8_t* q = b + 16;    // [64] four 2-bit values per byte
  const float d = LoadF16(b + 80);
  const float dmin = LoadF16(b + 82);
  int is = 0;
  for (int half = 0; half < 2; ++half) {  // 128 elements from 32 bytes
    for (int shift = 0; shift < 8; shift += 2) {
      for (int k = 0; k < 2; ++k) {  // two sub-blocks of 16
        const uint8_t sc = scales[is++];
        const float dl = d * static_cast<float>(sc & 0xF);
        const float ml = dmin * static_cast<float>(sc >> 4);
        for (int l = 0; l < 16; ++l) {
          *y++ = dl * static_cast<float>((q[l + 16 * k] >> shift) & 3) - ml;
        }
      }
    }
    q += 32;
  }
}

void DequantQ3_K(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;     // [32] bit `m` of byte l: high bit of q
  const uint8_t* q = b + 32;    // [64] low two bits
  int8_t scales[16];
  quant_internal::UnpackScalesQ3K(b + 96, scales);
  const float d_all = LoadF16(b + 108);
  int is = 0;
  uint8_t m = 1;
  for (int half = 0; half < 2; ++half) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int k = 0; k < 2; ++k) {
        const float dl = d_all * static_cast<float>(scales[is++]);
        for (int l = 16 * k; l < 16 * k + 16; ++l) {
          const int v = ((q[l] >> shift) & 3) - ((hmask[l] & m) ? 0 : 4);
          *y++ = dl * static_cast<float>(v);
        }
      }
      m <<= 1;
    }
    q += 32;
  }
}

void DequantQ4_K(const uint8_t* b, float* y) {
  const float d = LoadF16(b);
  const float dmin = LoadF16(b + 2);
  uint8_t sc[8], mn[8];
  quant_internal::UnpackScaleMinK4(b + 4, sc, mn);
  const uint8_t* q = b + 16;  // [128]
  for (int g = 0; g < 4; ++g) {  // 64 elements from 32 bytes
    const float d1 = d * static_cast<float>(sc[2 * g]);
    const float m1 = dmin * static_cast<float>(mn[2 * g]);
    const float d2 = d * static_cast<float>(sc[2 * g + 1]);
    const float m2 = dmin * static_cast<float>(mn[2 * g + 1]);
    for (int l = 0; l < 32; ++l) y[l] = d1 * static_cast<float>(q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) y[32 + l] = d2 * static_cast<float>(q[l] >> 4) - m2;
    y += 64;
    q += 32;
  }
}

void DequantQ5_K(const uint8_t* b, float* y) {
  const float d = LoadF16(b);
  const float dmin = LoadF16(b + 2);
  uint8_t sc[8], mn[8];
  quant_internal::UnpackScaleMinK4(b + 4, sc, mn);
  const uint8_t* qh = b + 16;  // [32] bit 2g / 2g+1: fifth bit in group g
  const uint8_t* ql = b + 48;  // [128]
  for (int g = 0; g < 4; ++g) {
    const float d1 = d * static_cast<float>(sc[2 * g]);
    const float m1 = dmin * static_cast<float>(mn[2 * g]);
    const float d2 = d * static_cast<float>(sc[2 * g + 1]);
    const float m2 = dmin * static_cast<float>(mn[2 * g + 1]);
    const uint8_t u1 = static_cast<uint8_t>(1 << (2 * g));
    const uint8_t u2 = static_cast<uint8_t>(2 << (2 * g));
    for (int l = 0; l < 32; ++l) {
      y[l] = d1 * static_cast<float>((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
    }
    for (int l = 0; l < 32; ++l) {
      y[32 + l] = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
    }
    y += 64;
    ql += 32;
  }
}

void DequantQ6_K(const uint8_t* b, float* y) {
  const uint8_t* ql = b;         // [128] low four bits
  const uint8_t* qh = b + 128;   // [64] high two bits, four per byte
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);  // [16]
  const float d = LoadF16(b + 208);
  for (int half = 0; half < 2; ++half) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

using BlockFn = void (*)(const uint8_t*, float*);

BlockFn BlockDequantizer(GgmlType type) {
  switch (type) {
    case GgmlType::kQ4_0: return DequantQ4_0;
    case GgmlType::kQ4_1: return DequantQ4_1;
    case GgmlType::kQ5_0: return DequantQ5_0;
    case GgmlType::kQ5_1: return DequantQ5_1;
    case GgmlType::kQ8_0: return DequantQ8_0;
    case GgmlType::kQ2_K: return DequantQ2_K;
    case GgmlType::kQ3_K: return DequantQ3_K;
    case GgmlType::kQ4_K: return DequantQ4_K;
    case GgmlType::kQ5_K: return DequantQ5_K;
    case GgmlType::kQ6_K: return DequantQ6_K;
    default: return nullptr;
  }
}

}  // namespace

void DequantizeRowRef(GgmlType type, const void* src, float* dst, int64_t n) {
  const GgmlTypeTraits& t = GetGgmlType(type);
  SKV_CHECK(t.can_compute && n % t.block_size == 0);
  const uint8_t* s = static_cast<const uint8_t*>(src);
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = LoadF16(s + 2 * i);
      return;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, s + 2 * i, 2);
        dst[i] = BF16BitsToF32(h);
      }
      return;
    default:
      break;
  }
  const BlockFn fn = BlockDequantizer(type);
  SKV_CHECK(fn != nullptr);
  for (int64_t b = 0; b < n / t.block_size; ++b) {
    fn(s + b * t.type_size, dst + b * t.block_size);
  }
}

void DequantizeRowBF16Ref(GgmlType type, const void* src, uint16_t* dst,
                          int64_t n) {
  std::vector<float> f(static_cast<size_t>(n));  // [n] the exact f32 row
  DequantizeRowRef(type, src, f.data(), n);
  for (int64_t i = 0; i < n; ++i) dst[i] = quant_internal::F32ToBF16Bits(f[i]);
}

float DotRowRef(GgmlType type, const void* row, const float* x, int64_t n) {
  const GgmlTypeTraits& t = GetGgmlType(type);
  SKV_CHECK(t.can_compute && n % t.block_size == 0);
  // Dequantise one block at a time (no allocation) and accumulate in double:
  // the reference should be close to exact so that tests measure the error
  // of the fast kernels, not of the oracle.
  float tmp[256];  // [block_size] (256 is the largest block)
  const int64_t bs = t.block_size == 1 ? 256 : t.block_size;
  const uint8_t* s = static_cast<const uint8_t*>(row);
  const int64_t elem_bytes = t.block_size == 1 ? t.type_size : 0;
  double sum = 0.0;
  for (int64_t i = 0; i < n; i += bs) {
    const int64_t len = std::min<int64_t>(bs, n - i);
    const uint8_t* p = elem_bytes ? s + i * elem_bytes : s + i / bs * t.type_size;
    DequantizeRowRef(type, p, tmp, len);
    for (int64_t j = 0; j < len; ++j) sum += static_cast<double>(tmp[j]) * x[i + j];
  }
  return static_cast<float>(sum);
}

}  // namespace skv
