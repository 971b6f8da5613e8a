// AVX2 kernels of the integer prefill GEMM (quant_gemm.h), included by
// quant_gemm.cc once per Highway target after quant_gemm_panel-inl.h. They
// run on every x86 target with AVX2 but without AVX512-VNNI (AVX2 itself,
// and AVX-512 CPUs without VNNI); SKV_QUANT_GEMM_AVX2 says whether this
// target defines them.
//
// A 256-bit vector of an 8-row panel (quant_gemm_panel-inl.h) holds 4
// consecutive codes of each of the 8 rows. Against the token's 4 activation
// codes broadcast, pmaddubsw forms the pair sums of each row in int16 and
// pmaddwd adds the two pairs into the row's int32 lane, multiplied by a
// K-quant sub-block scale (or by 1): 32 products in two instructions, and
// the sub-block scale costs nothing extra.
//
// pmaddubsw multiplies unsigned by signed bytes and saturates its int16 pair
// sums. Every unsigned code here is at most 128 and every activation code
// at most 128 in magnitude, so a pair sum stays within 2 * 128 * 127 (the
// Q8_0 activations are within +-127) or 2 * 63 * 128 (K-quants): never
// saturated. Q8_0 weights are signed: their magnitudes are the unsigned
// operand and their signs move onto the activations (psignb), as ggml does.
//
// Exactness: every (row, token) block sum is exact in int32 and enters the
// row's f32 accumulator by fused multiply-adds in block order (quant_dot.h,
// "one arithmetic"): the results equal the VNNI panels' and MatVecQ8's bit
// for bit.

// Per-target include guard (Highway's toggle idiom).
#if defined(SKV_SIMD_QUANT_GEMM_AVX2_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SKV_SIMD_QUANT_GEMM_AVX2_INL_H_
#undef SKV_SIMD_QUANT_GEMM_AVX2_INL_H_
#else
#define SKV_SIMD_QUANT_GEMM_AVX2_INL_H_
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "hwy/highway.h"
#include "simd/quant_dot.h"

#undef SKV_QUANT_GEMM_AVX2
#if SKV_QUANT_DOT_X86 && HWY_TARGET != HWY_AVX3_DL
#define SKV_QUANT_GEMM_AVX2 1

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {
namespace avx2 {

using panel::PanelK;
using panel::Panel32;

constexpr int kPanelRows = 8;  // int32 lanes of a 256-bit vector
constexpr int kMaxTokens = 4;  // tokens per register tile (16 ymm registers)

// The 4 activation codes at x4 in every int32 lane.
HWY_INLINE __m256i Broadcast4(const int8_t* x4) {
  int32_t v;
  std::memcpy(&v, x4, 4);
  return _mm256_set1_epi32(v);
}

// acc + per int32 lane l: (sum_{i<4} u[4l+i] * s[4l+i]) * scale16, where
// scale16 holds the lane's multiplier in both int16 halves.
HWY_INLINE __m256i DotQuadsScaled(__m256i acc, __m256i u, __m256i s,
                                  __m256i scale16) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scale16));
}

// The two int16 at p2 as one int32 broadcast (pmaddwd's pair operand).
HWY_INLINE __m256i Broadcast2(const int16_t* p2) {
  int32_t v;
  std::memcpy(&v, p2, 4);
  return _mm256_set1_epi32(v);
}

// Stores a token's 8 row results (the first `count` of them).
HWY_INLINE void StoreRows(float* y, __m256 v, int count) {
  if (count == kPanelRows) {
    _mm256_storeu_ps(y, v);
    return;
  }
  alignas(32) float tmp[kPanelRows];
  _mm256_store_ps(tmp, v);
  std::memcpy(y, tmp, count * sizeof(float));
}

// RN tokens x one K-quant panel. x: the tokens' Q8_K activations.
template <int kSubs, bool kQ6, int RN>
HWY_INLINE void KernelK(const PanelK<8>& p, int64_t n,
                        const QuantizedActivations* x, float* y,
                        int64_t y_stride, int count) {
  constexpr int kChunks = 256 / kSubs / 4;  // vectors of codes per sub-block
  const int64_t nsb = n / 256;
  const int8_t* xq[RN];
  const int16_t* xs[RN];
  const float* xd[RN];
  for (int t = 0; t < RN; ++t) {
    xq[t] = x[t].q.data();
    xs[t] = x[t].bsums.data();
    xd[t] = x[t].d.data();
  }
  __m256 acc[RN];
  for (int t = 0; t < RN; ++t) acc[t] = _mm256_setzero_ps();
  const uint8_t* codes = p.codes.data();
  for (int64_t sb = 0; sb < nsb; ++sb) {
    __m256i isum[RN];
    for (int t = 0; t < RN; ++t) isum[t] = _mm256_setzero_si256();
    for (int j = 0; j < kSubs; ++j) {
      const int64_t e0 = 256 * sb + (256 / kSubs) * j;  // first element
      const __m256i scale = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(
          p.scales.data() + (sb * kSubs + j) * kPanelRows));
#pragma GCC unroll 8
      for (int c = 0; c < kChunks; ++c) {
        const __m256i u = _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(codes + kPanelRows * (e0 + 4 * c)));
#pragma GCC unroll 4
        for (int t = 0; t < RN; ++t) {
          isum[t] = DotQuadsScaled(isum[t], u, Broadcast4(xq[t] + e0 + 4 * c), scale);
        }
      }
    }
    // sum over the 16 bsums of weight * bsum, exact in int32.
    __m256i msum[RN];
    for (int t = 0; t < RN; ++t) msum[t] = _mm256_setzero_si256();
    const int16_t* mins = p.mins.data() + sb * 8 * kPanelRows * 2;
#pragma GCC unroll 8
    for (int q = 0; q < 8; ++q) {
      const __m256i m = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(mins + q * kPanelRows * 2));
      for (int t = 0; t < RN; ++t) {
        msum[t] = _mm256_add_epi32(
            msum[t], _mm256_madd_epi16(m, Broadcast2(xs[t] + 16 * sb + 2 * q)));
      }
    }
    const __m256 d = _mm256_loadu_ps(p.d.data() + sb * kPanelRows);
    const __m256 dmin = _mm256_loadu_ps(p.dmin.data() + sb * kPanelRows);
    for (int t = 0; t < RN; ++t) {
      const __m256 dx = _mm256_set1_ps(xd[t][sb]);
      if constexpr (kQ6) {  // one term: the -32 leaves in int32
        const __m256i signed_sum = _mm256_sub_epi32(isum[t], msum[t]);
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(signed_sum), _mm256_mul_ps(d, dx), acc[t]);
      } else {
        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(d, dx), acc[t]);
        acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum[t]), _mm256_mul_ps(dmin, dx), acc[t]);
      }
    }
  }
  for (int t = 0; t < RN; ++t) StoreRows(y + t * y_stride, acc[t], count);
}

// RN tokens x one 32-block panel. bias32: per token, -offset * (sum of the
// block's 32 activation codes), [T][n / 32] with row stride n / 32 (unused
// for Q8_0, whose codes are signed here).
template <GgmlType kType, int RN>
HWY_INLINE void Kernel32(const Panel32<8>& p, int64_t n,
                         const QuantizedActivations* x, const int32_t* bias32,
                         float* y, int64_t y_stride, int count) {
  constexpr bool kSigned = kType == GgmlType::kQ8_0;
  const int64_t nb = n / 32;
  const int8_t* xq[RN];
  const float* xd[RN];
  for (int t = 0; t < RN; ++t) {
    xq[t] = x[t].q.data();
    xd[t] = x[t].d.data();
  }
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[RN];
  for (int t = 0; t < RN; ++t) acc[t] = _mm256_setzero_ps();
  const uint8_t* codes = p.codes.data();
  for (int64_t b = 0; b < nb; ++b) {
    __m256i s[RN];
    for (int t = 0; t < RN; ++t) {
      s[t] = kSigned ? _mm256_setzero_si256() : _mm256_set1_epi32(bias32[t * nb + b]);
    }
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) {
      const __m256i w = _mm256_loadu_si256(
          reinterpret_cast<const __m256i*>(codes + kPanelRows * (32 * b + 4 * c)));
      if constexpr (kSigned) {
        const __m256i u = _mm256_abs_epi8(w);
#pragma GCC unroll 4
        for (int t = 0; t < RN; ++t) {
          const __m256i xs = _mm256_sign_epi8(Broadcast4(xq[t] + 32 * b + 4 * c), w);
          s[t] = DotQuadsScaled(s[t], u, xs, ones);
        }
      } else {
#pragma GCC unroll 4
        for (int t = 0; t < RN; ++t) {
          s[t] = DotQuadsScaled(s[t], w, Broadcast4(xq[t] + 32 * b + 4 * c), ones);
        }
      }
    }
    const __m256 d = _mm256_loadu_ps(p.d.data() + b * kPanelRows);
    for (int t = 0; t < RN; ++t) {
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t]),
                               _mm256_mul_ps(d, _mm256_set1_ps(xd[t][b])), acc[t]);
    }
  }
  for (int t = 0; t < RN; ++t) StoreRows(y + t * y_stride, acc[t], count);
}

// The kernels as panel::GemmPanels calls them.
struct Kernels {
  static constexpr int kPanelRows = avx2::kPanelRows;
  static constexpr int kMaxTokens = avx2::kMaxTokens;
  static constexpr bool kSignedQ8 = true;
  template <GgmlType kType, int RN>
  static HWY_INLINE void K(const PanelK<8>& p, int64_t n,
                           const QuantizedActivations* x, float* y,
                           int64_t y_stride, int count) {
    constexpr bool kQ6 = kType == GgmlType::kQ6_K;
    KernelK<kQ6 ? 16 : 8, kQ6, RN>(p, n, x, y, y_stride, count);
  }
  template <GgmlType kType, int RN>
  static HWY_INLINE void B32(const Panel32<8>& p, int64_t n,
                             const QuantizedActivations* x,
                             const int32_t* bias32, float* y, int64_t y_stride,
                             int count) {
    Kernel32<kType, RN>(p, n, x, bias32, y, y_stride, count);
  }
};

}  // namespace avx2
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#else
#define SKV_QUANT_GEMM_AVX2 0
#endif  // SKV_QUANT_DOT_X86 && HWY_TARGET != HWY_AVX3_DL

#endif  // SKV_SIMD_QUANT_GEMM_AVX2_INL_H_ toggle
