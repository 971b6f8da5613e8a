// Activation quantisation for the integer dot path and the scalar reference
// dots (the oracles for the Highway kernels in quant_dot.cc and
// quant_gemm.cc). The reference spells out the one arithmetic every integer
// kernel follows (quant_dot.h, "One arithmetic"): exact integer sums per
// block (or K-quant super-block), then one fused multiply-add per block into
// a single f32 accumulator, in block order.
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "simd/activation_round.h"
#include "simd/quant.h"
#include "simd/quant_dot.h"
#include "simd/quant_internal.h"

namespace skv {
namespace {

using quant_internal::LoadF16;

// Integer weights of one block; the dot multiplies these with the int8
// activations. Q4_0: nibble - 8, Q5_0: 5-bit value - 16, Q8_0: as stored.
void UnpackQ4_0(const uint8_t* b, int* w) {
  const uint8_t* qs = b + 2;  // [16] element j in the low nibble, j+16 high
  for (int j = 0; j < 16; ++j) {
    w[j] = (qs[j] & 0xF) - 8;
    w[j + 16] = (qs[j] >> 4) - 8;
  }
}

void UnpackQ5_0(const uint8_t* b, int* w) {
  uint32_t qh;  // bit j is the fifth bit of element j
  std::memcpy(&qh, b + 2, 4);
  const uint8_t* qs = b + 6;  // [16]
  for (int j = 0; j < 16; ++j) {
    w[j] = ((qs[j] & 0xF) | (((qh >> j) & 1) << 4)) - 16;
    w[j + 16] = ((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
  }
}

void UnpackQ8_0(const uint8_t* b, int* w) {
  const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);  // [32]
  for (int j = 0; j < 32; ++j) w[j] = qs[j];
}

// Q4_K / Q5_K: unsigned 4- or 5-bit values of the 8 sub-blocks of 32.
void UnpackQ4_K(const uint8_t* b, int* w) {
  const uint8_t* q = b + 16;  // [128]
  for (int g = 0; g < 4; ++g) {
    for (int l = 0; l < 32; ++l) {
      w[64 * g + l] = q[32 * g + l] & 0xF;
      w[64 * g + 32 + l] = q[32 * g + l] >> 4;
    }
  }
}

void UnpackQ5_K(const uint8_t* b, int* w) {
  const uint8_t* qh = b + 16;  // [32] bits 2g, 2g+1: fifth bits of group g
  const uint8_t* ql = b + 48;  // [128]
  for (int g = 0; g < 4; ++g) {
    for (int l = 0; l < 32; ++l) {
      w[64 * g + l] = (ql[32 * g + l] & 0xF) | (((qh[l] >> (2 * g)) & 1) << 4);
      w[64 * g + 32 + l] = (ql[32 * g + l] >> 4) | (((qh[l] >> (2 * g + 1)) & 1) << 4);
    }
  }
}

// Q6_K: signed 6-bit values (minus 32) in dequantisation order.
void UnpackQ6_K(const uint8_t* b, int* w) {
  const uint8_t* ql = b;        // [128] low four bits
  const uint8_t* qh = b + 128;  // [64] high two bits, four per byte
  for (int half = 0; half < 2; ++half) {
    int* y = w + 128 * half;
    for (int l = 0; l < 32; ++l) {
      y[l] = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32;
      y[l + 32] = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      y[l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      y[l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
    }
    ql += 64;
    qh += 32;
  }
}

int Dot(const int* w, const int8_t* x, int len) {
  int s = 0;
  for (int i = 0; i < len; ++i) s += w[i] * x[i];
  return s;
}

}  // namespace

bool HasIntegerDot(GgmlType weight_type) {
  switch (weight_type) {
    case GgmlType::kQ4_0:
    case GgmlType::kQ5_0:
    case GgmlType::kQ8_0:
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ6_K:
      return true;
    default:
      return false;
  }
}

int ActivationOffset(GgmlType weight_type) {
  switch (weight_type) {
    case GgmlType::kQ8_0: return 128;
    case GgmlType::kQ4_0: return 8;
    case GgmlType::kQ5_0: return 16;
    default: return 0;
  }
}

void QuantizeActivationsRef(GgmlType weight_type, const float* x, int64_t n,
                            QuantizedActivations* out) {
  SKV_CHECK(HasIntegerDot(weight_type));
  const GgmlType type = ActivationType(weight_type);
  const bool k = type == GgmlType::kQ8_K;
  const int block = k ? 256 : 32;
  SKV_CHECK(n >= 0 && n % block == 0);
  out->type = type;
  out->n = n;
  out->finite = true;
  out->q.resize(n);
  out->d.resize(n / block);
  out->bsums.resize(k ? n / 16 : 0);
  float r[256];  // [block] rounded values as floats
  for (int64_t b = 0; b < n / block; ++b) {
    const float* xb = x + b * block;
    out->d[b] = k ? QuantizeBlockQ8_K(xb, r) : QuantizeBlockQ8_0(xb, r);
    int8_t* q = out->q.data() + b * block;
    for (int j = 0; j < block; ++j) {
      // nan (from nan/inf in x) has no int8 value: flag it for the caller.
      if (!(std::abs(r[j]) <= 127.f)) {
        out->finite = false;
        q[j] = 0;
      } else {
        q[j] = static_cast<int8_t>(r[j]);
      }
    }
    if (!std::isfinite(out->d[b])) out->finite = false;
  }
  FillActivationSums(weight_type, out);
}

void FillActivationSums(GgmlType weight_type, QuantizedActivations* out) {
  const int64_t n = out->n;
  out->q16.assign(out->q.begin(), out->q.end());
  out->bsums.resize(out->type == GgmlType::kQ8_K ? n / 16 : 0);
  for (size_t s = 0; s < out->bsums.size(); ++s) {
    int sum = 0;
    for (int j = 0; j < 16; ++j) sum += out->q[16 * s + j];
    out->bsums[s] = static_cast<int16_t>(sum);
  }
  const int offset = ActivationOffset(weight_type);
  out->bias4.resize(offset != 0 ? n / 4 : 0);
  for (size_t s = 0; s < out->bias4.size(); ++s) {
    const int8_t* q = out->q.data() + 4 * s;
    out->bias4[s] = -offset * (q[0] + q[1] + q[2] + q[3]);
  }
}

void DequantizeActivations(const QuantizedActivations& a, float* out) {
  const int block = a.type == GgmlType::kQ8_K ? 256 : 32;
  for (int64_t i = 0; i < a.n; ++i) {
    out[i] = a.d[i / block] * static_cast<float>(a.q[i]);
  }
}

float DotQ8Ref(GgmlType weight_type, const void* row,
               const QuantizedActivations& x) {
  SKV_CHECK(HasIntegerDot(weight_type));
  SKV_CHECK(x.type == ActivationType(weight_type));
  const GgmlTypeTraits& t = GetGgmlType(weight_type);
  const uint8_t* w = static_cast<const uint8_t*>(row);
  const int64_t blocks = x.n / t.block_size;
  int wq[256];  // [block_size] integer weights of one block
  float acc = 0.f;
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* wb = w + b * t.type_size;
    const int8_t* xq = x.q.data() + b * t.block_size;
    const float dx = x.d[b];
    switch (weight_type) {
      case GgmlType::kQ4_0:
      case GgmlType::kQ5_0:
      case GgmlType::kQ8_0: {
        if (weight_type == GgmlType::kQ4_0) UnpackQ4_0(wb, wq);
        if (weight_type == GgmlType::kQ5_0) UnpackQ5_0(wb, wq);
        if (weight_type == GgmlType::kQ8_0) UnpackQ8_0(wb, wq);
        acc = FusedBlockTerm(Dot(wq, xq, 32), LoadF16(wb) * dx, acc);
        break;
      }
      case GgmlType::kQ4_K:
      case GgmlType::kQ5_K: {
        if (weight_type == GgmlType::kQ4_K) UnpackQ4_K(wb, wq);
        if (weight_type == GgmlType::kQ5_K) UnpackQ5_K(wb, wq);
        uint8_t sc[8], mn[8];
        quant_internal::UnpackScaleMinK4(wb + 4, sc, mn);
        const int16_t* bs = x.bsums.data() + b * 16;
        int isum = 0, msum = 0;
        for (int j = 0; j < 8; ++j) {
          isum += sc[j] * Dot(wq + 32 * j, xq + 32 * j, 32);
          msum += mn[j] * (bs[2 * j] + bs[2 * j + 1]);
        }
        acc = FusedBlockTerm(isum, LoadF16(wb) * dx, acc);
        acc = FusedBlockTerm(-msum, LoadF16(wb + 2) * dx, acc);
        break;
      }
      case GgmlType::kQ6_K: {
        UnpackQ6_K(wb, wq);
        const int8_t* sc = reinterpret_cast<const int8_t*>(wb + 192);  // [16]
        int isum = 0;
        for (int j = 0; j < 16; ++j) isum += sc[j] * Dot(wq + 16 * j, xq + 16 * j, 16);
        acc = FusedBlockTerm(isum, LoadF16(wb + 208) * dx, acc);
        break;
      }
      default:
        SKV_CHECK(false);
    }
  }
  return acc;
}

}  // namespace skv
