// AVX512-VNNI kernels of the integer prefill GEMM (quant_gemm.h), included
// by quant_gemm.cc once per Highway target after quant_gemm_panel-inl.h;
// only the AVX3_DL target (AVX-512 with VNNI) defines them
// (SKV_QUANT_GEMM_VNNI).
//
// A 512-bit vector of a 16-row panel (quant_gemm_panel-inl.h) holds 4
// consecutive codes of each of the 16 rows. One vpdpbusd with the token's 4
// activation codes broadcast from memory adds 64 products into 16 row lanes;
// the 16 outputs of a token are one vector store.
//
// Exactness: each (row, token) sum of one block (32-block types) or one
// super-block (K-quants) is formed exactly in int32, sub-block scales and
// mins included, and enters the row's f32 accumulator by fused multiply-adds
// in block order: quant_dot.h's "one arithmetic", so the results equal
// MatVecQ8's and the AVX2 panels' bit for bit.

// Per-target include guard (Highway's toggle idiom).
#if defined(SKV_SIMD_QUANT_GEMM_VNNI_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SKV_SIMD_QUANT_GEMM_VNNI_INL_H_
#undef SKV_SIMD_QUANT_GEMM_VNNI_INL_H_
#else
#define SKV_SIMD_QUANT_GEMM_VNNI_INL_H_
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "hwy/highway.h"
#include "simd/quant_dot.h"

#undef SKV_QUANT_GEMM_VNNI
#if HWY_ARCH_X86 && HWY_TARGET == HWY_AVX3_DL
#define SKV_QUANT_GEMM_VNNI 1

// GCC 12 warns that the _mm512_undefined_* placeholder inside
// _mm512_cvtepi32_ps and _mm512_i32gather_epi32 "may be used uninitialized"
// (a false positive: the all-ones mask overwrites every lane).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {
namespace vnni {

using panel::PanelK;
using panel::Panel32;

// acc + sum_{i<4} u[4l+i] * s[i] per int32 lane l, where s is the 4 signed
// bytes at x4 broadcast to every lane. vpdpbusd (EVEX) as inline asm: the
// AVX3_DL target of Highway 1.0.3 names avxvnni, not avx512vnni, so the
// intrinsic does not compile here (see DotQuads in quant_dot_x86-inl.h).
HWY_INLINE __m512i DotQuadsBroadcast(__m512i acc, __m512i u, const int8_t* x4) {
  asm("vpdpbusd %2%{1to16%}, %1, %0"
      : "+v"(acc)
      : "v"(u), "m"(*reinterpret_cast<const int32_t*>(x4)));
  return acc;
}

// acc + a[2l] * b[0] + a[2l+1] * b[1] per int32 lane l (int16 products),
// b being the 2 int16 at b2 broadcast: vpdpwssd (EVEX).
HWY_INLINE __m512i DotPairsBroadcast(__m512i acc, __m512i a, const int16_t* b2) {
  asm("vpdpwssd %2%{1to16%}, %1, %0"
      : "+v"(acc)
      : "v"(a), "m"(*reinterpret_cast<const int32_t*>(b2)));
  return acc;
}

constexpr int kPanelRows = 16;  // int32 lanes of a 512-bit vector
constexpr int kMaxTokens = 8;   // tokens per register tile

// ----------------------------------------------------------------- kernels

// Stores a token's 16 row results (the first `count` of them).
HWY_INLINE void StoreRows(float* y, __m512 v, int count) {
  if (count == kPanelRows) {
    _mm512_storeu_ps(y, v);
  } else {
    _mm512_mask_storeu_ps(y, static_cast<__mmask16>((1u << count) - 1), v);
  }
}

// RN tokens x one K-quant panel. x: the tokens' Q8_K activations.
template <int kSubs, bool kQ6, int RN>
HWY_INLINE void KernelK(const PanelK<16>& p, int64_t n,
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
  __m512 acc[RN];
  for (int t = 0; t < RN; ++t) acc[t] = _mm512_setzero_ps();
  const uint8_t* codes = p.codes.data();
  for (int64_t sb = 0; sb < nsb; ++sb) {
    __m512i isum[RN], s[RN];
    for (int t = 0; t < RN; ++t) isum[t] = _mm512_setzero_si512();
    for (int j = 0; j < kSubs; ++j) {
      for (int t = 0; t < RN; ++t) s[t] = _mm512_setzero_si512();
      const int64_t e0 = 256 * sb + (256 / kSubs) * j;  // first element
#pragma GCC unroll 8
      for (int c = 0; c < kChunks; ++c) {
        const __m512i u = _mm512_loadu_si512(codes + 16 * (e0 + 4 * c));
#pragma GCC unroll 8
        for (int t = 0; t < RN; ++t) {
          s[t] = DotQuadsBroadcast(s[t], u, xq[t] + e0 + 4 * c);
        }
      }
      const __m512i scale =
          _mm512_loadu_si512(p.scales.data() + (sb * kSubs + j) * kPanelRows);
      for (int t = 0; t < RN; ++t) {
        isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s[t], scale));
      }
    }
    // sum over the 16 bsums of weight * bsum, exact in int32.
    for (int t = 0; t < RN; ++t) s[t] = _mm512_setzero_si512();
    const int16_t* mins = p.mins.data() + sb * 8 * kPanelRows * 2;
#pragma GCC unroll 8
    for (int q = 0; q < 8; ++q) {
      const __m512i m = _mm512_loadu_si512(mins + q * kPanelRows * 2);
      for (int t = 0; t < RN; ++t) {
        s[t] = DotPairsBroadcast(s[t], m, xs[t] + 16 * sb + 2 * q);
      }
    }
    const __m512 d = _mm512_loadu_ps(p.d.data() + sb * kPanelRows);
    const __m512 dmin = _mm512_loadu_ps(p.dmin.data() + sb * kPanelRows);
    for (int t = 0; t < RN; ++t) {
      const __m512 dx = _mm512_set1_ps(xd[t][sb]);
      if constexpr (kQ6) {  // one term: the -32 leaves in int32
        const __m512i signed_sum = _mm512_sub_epi32(isum[t], s[t]);
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(signed_sum), _mm512_mul_ps(d, dx), acc[t]);
      } else {
        acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, dx), acc[t]);
        acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(s[t]), _mm512_mul_ps(dmin, dx), acc[t]);
      }
    }
  }
  for (int t = 0; t < RN; ++t) StoreRows(y + t * y_stride, acc[t], count);
}

// RN tokens x one 32-block panel. bias32: per token, -offset * (sum of the
// block's 32 activation codes), [T][n / 32] with row stride n / 32.
template <int RN>
HWY_INLINE void Kernel32(const Panel32<16>& p, int64_t n,
                         const QuantizedActivations* x, const int32_t* bias32,
                         float* y, int64_t y_stride, int count) {
  const int64_t nb = n / 32;
  const int8_t* xq[RN];
  const float* xd[RN];
  for (int t = 0; t < RN; ++t) {
    xq[t] = x[t].q.data();
    xd[t] = x[t].d.data();
  }
  __m512 acc[RN];
  for (int t = 0; t < RN; ++t) acc[t] = _mm512_setzero_ps();
  const uint8_t* codes = p.codes.data();
  for (int64_t b = 0; b < nb; ++b) {
    __m512i s[RN];
    for (int t = 0; t < RN; ++t) s[t] = _mm512_set1_epi32(bias32[t * nb + b]);
#pragma GCC unroll 8
    for (int c = 0; c < 8; ++c) {
      const __m512i u = _mm512_loadu_si512(codes + 16 * (32 * b + 4 * c));
#pragma GCC unroll 8
      for (int t = 0; t < RN; ++t) {
        s[t] = DotQuadsBroadcast(s[t], u, xq[t] + 32 * b + 4 * c);
      }
    }
    const __m512 d = _mm512_loadu_ps(p.d.data() + b * kPanelRows);
    for (int t = 0; t < RN; ++t) {
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t]),
                               _mm512_mul_ps(d, _mm512_set1_ps(xd[t][b])), acc[t]);
    }
  }
  for (int t = 0; t < RN; ++t) StoreRows(y + t * y_stride, acc[t], count);
}

// The kernels as panel::GemmPanels calls them.
struct Kernels {
  static constexpr int kPanelRows = vnni::kPanelRows;
  static constexpr int kMaxTokens = vnni::kMaxTokens;
  static constexpr bool kSignedQ8 = false;  // w + 128, bias4 removes 128
  template <GgmlType kType, int RN>
  static HWY_INLINE void K(const PanelK<16>& p, int64_t n,
                           const QuantizedActivations* x, float* y,
                           int64_t y_stride, int count) {
    constexpr bool kQ6 = kType == GgmlType::kQ6_K;
    KernelK<kQ6 ? 16 : 8, kQ6, RN>(p, n, x, y, y_stride, count);
  }
  template <GgmlType kType, int RN>
  static HWY_INLINE void B32(const Panel32<16>& p, int64_t n,
                             const QuantizedActivations* x,
                             const int32_t* bias32, float* y, int64_t y_stride,
                             int count) {
    Kernel32<RN>(p, n, x, bias32, y, y_stride, count);
  }
};

}  // namespace vnni
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();
#pragma GCC diagnostic pop

#else
#define SKV_QUANT_GEMM_VNNI 0
#endif  // HWY_ARCH_X86 && HWY_TARGET == HWY_AVX3_DL

#endif  // SKV_SIMD_QUANT_GEMM_VNNI_INL_H_ toggle
