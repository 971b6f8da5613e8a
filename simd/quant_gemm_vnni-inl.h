// AVX512-VNNI kernels of the integer prefill GEMM (quant_gemm.h), included
// by quant_gemm.cc once per Highway target after quant_dot_x86-inl.h; only
// the AVX3_DL target (AVX-512 with VNNI) defines them (SKV_QUANT_GEMM_VNNI).
//
// Why a second kernel family: the tiled kernels of quant_gemm_x86-inl.h keep
// each (row, token) pair's int32 lanes along the row, so every K-quant
// sub-block scale and every 32-block scale needs a horizontal step per pair.
// Here a panel of 16 weight rows is first repacked so that one 512-bit
// vector holds 4 consecutive codes of each of the 16 rows ([chunk][row][4]
// bytes, llama.cpp's "repacked" layout). One vpdpbusd with the token's 4
// activation codes broadcast from memory then adds 64 products into 16 row
// lanes, and every scale, minimum and offset is a per-lane (per-row)
// multiply: no horizontal sums at all. The 16 outputs of a token are one
// vector store.
//
// Repacking happens per call and per panel (not at load time, so the model
// keeps one copy of its weights): a panel's codes are decoded into bytes
// once and then multiplied with every token of the call, so its cost is
// 1 / T of the products'.
//
// Exactness: each (row, token) sum of one block (32-block types) or one
// super-block (K-quants) is formed exactly in int32, sub-block scales and
// mins included, then scaled in f32 by d_w * d_x as ggml does. Only the
// order of the f32 sums over blocks differs from MatVecQ8's (two
// accumulators, even / odd blocks), so results agree with it to rounding.

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

constexpr int kPanelRows = 16;  // int32 lanes of a 512-bit vector
constexpr int kMaxTokens = 8;   // tokens per register tile

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

// ------------------------------------------------------------------ panels
//
// A panel is 16 rows x n columns, repacked. Rows past the matrix's end are
// zero (codes and scales), so they add nothing and are never stored.

// K-quants: super-blocks of 256 elements with integer sub-block scales.
// Q4_K / Q5_K: 8 sub-blocks of 32, codes 0..15 / 0..31, y = d * sc * q -
// dmin * mn. Q6_K: 16 sub-blocks of 16, codes 0..63, y = d * sc * (q - 32):
// the -32 becomes a "min" of 32 * sc per 16 elements with dmin = d.
struct PanelK {
  std::vector<uint8_t> codes;   // [n / 4][16 rows][4]
  std::vector<int32_t> scales;  // [n / 256][subs][16 rows]
  // Per bsum (16 activations): its weight in the minimum term, two bsums per
  // int32 lane pair: [n / 256][8][16 rows][2].
  std::vector<int16_t> mins;
  std::vector<float> d, dmin;  // [n / 256][16 rows]
};

// 32-block types (Q8_0, Q4_0, Q5_0): unsigned codes w + offset (128, 8, 16);
// the activations' bias4 removes the offset. y = d * (u - offset).
struct Panel32 {
  std::vector<uint8_t> codes;  // [n / 4][16 rows][4]
  std::vector<float> d;        // [n / 32][16 rows]
};

// Decoded codes of up to 16 rows, row-major, then interleaved into
// [n / 4][16][4] with one 16-lane gather per 4 columns.
struct RowCodes {
  std::vector<uint8_t> bytes;  // [16 rows][n]
};

HWY_INLINE void InterleaveRows(const RowCodes& rc, int64_t n, uint8_t* out) {
  const int32_t* base = reinterpret_cast<const int32_t*>(rc.bytes.data());
  // Lane r reads row r's 4 bytes at column 4c: dword index r * n / 4 + c.
  const __m512i rows =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6,
                                          5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(static_cast<int32_t>(n / 4)));
  for (int64_t c = 0; c < n / 4; ++c) {
    _mm512_storeu_si512(out + 64 * c, _mm512_i32gather_epi32(rows, base + c, 4));
  }
}

// Unpacks 32 nibble bytes into 64 codes: out[0..31] low, out[32..63] high.
HWY_INLINE void SplitNibbles(const uint8_t* q, __m256i* lo, __m256i* hi) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
  const __m256i k15 = _mm256_set1_epi8(0x0F);
  *lo = _mm256_and_si256(v, k15);
  *hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), k15);
}

// Bits (shift, shift + 1, ...) of each byte of v, masked to `mask`, moved to
// bit 4: the fifth / high bits of the 5- and 6-bit codes.
HWY_INLINE __m256i HighBits(__m256i v, int shift, int mask) {
  const __m256i m = _mm256_set1_epi8(static_cast<char>(mask));
  const __m256i b = _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(shift)), m);
  return _mm256_slli_epi16(b, 4);  // bits of each byte stay in that byte
}

HWY_INLINE void Store256(uint8_t* p, __m256i v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
}

// One row of a K-quant type: codes into out[n], scales / mins / d / dmin
// into lane `r` of the panel.
template <GgmlType kType>
HWY_INLINE void DecodeRowK(const uint8_t* row, int64_t n, int r, uint8_t* out,
                           PanelK& p) {
  const int64_t nsb = n / 256;
  constexpr int kSubs = kType == GgmlType::kQ6_K ? 16 : 8;
  for (int64_t sb = 0; sb < nsb; ++sb) {
    uint8_t* o = out + 256 * sb;
    int32_t* sc = p.scales.data() + (sb * kSubs) * kPanelRows + r;
    int16_t* mn = p.mins.data() + sb * 8 * kPanelRows * 2 + 2 * r;
    if constexpr (kType == GgmlType::kQ6_K) {
      const uint8_t* wb = row + 210 * sb;
      for (int h = 0; h < 2; ++h) {
        const uint8_t* ql = wb + 64 * h;
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
        const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
        const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 128 + 32 * h));
        const __m256i k15 = _mm256_set1_epi8(0x0F);
        uint8_t* oh = o + 128 * h;
        Store256(oh, _mm256_or_si256(_mm256_and_si256(a, k15), HighBits(hb, 0, 3)));
        Store256(oh + 32, _mm256_or_si256(_mm256_and_si256(c, k15), HighBits(hb, 2, 3)));
        Store256(oh + 64, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(a, 4), k15),
                                          HighBits(hb, 4, 3)));
        Store256(oh + 96, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), k15),
                                          HighBits(hb, 6, 3)));
      }
      const int8_t* s = reinterpret_cast<const int8_t*>(wb + 192);  // [16]
      for (int j = 0; j < 16; ++j) {
        sc[j * kPanelRows] = s[j];
        mn[(j / 2) * kPanelRows * 2 + (j % 2)] = static_cast<int16_t>(32 * s[j]);
      }
      p.d[sb * kPanelRows + r] = x86::Half(wb + 208);
      p.dmin[sb * kPanelRows + r] = p.d[sb * kPanelRows + r];
    } else {
      constexpr bool kFive = kType == GgmlType::kQ5_K;
      const uint8_t* wb = row + (kFive ? 176 : 144) * sb;
      uint8_t s[8], m[8];
      x86::ScalesMinsK4(wb + 4, s, m);
      const uint8_t* q = wb + (kFive ? 48 : 16);
      __m256i qh = _mm256_setzero_si256();
      if (kFive) qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 16));
      for (int g = 0; g < 4; ++g) {
        __m256i lo, hi;
        SplitNibbles(q + 32 * g, &lo, &hi);
        if (kFive) {
          lo = _mm256_or_si256(lo, HighBits(qh, 2 * g, 1));
          hi = _mm256_or_si256(hi, HighBits(qh, 2 * g + 1, 1));
        }
        Store256(o + 64 * g, lo);
        Store256(o + 64 * g + 32, hi);
      }
      for (int j = 0; j < 8; ++j) {
        sc[j * kPanelRows] = s[j];
        mn[j * kPanelRows * 2] = mn[j * kPanelRows * 2 + 1] = m[j];
      }
      p.d[sb * kPanelRows + r] = x86::Half(wb);
      p.dmin[sb * kPanelRows + r] = x86::Half(wb + 2);
    }
  }
}

template <GgmlType kType>
HWY_INLINE void DecodeRow32(const uint8_t* row, int64_t n, int r, uint8_t* out,
                            Panel32& p) {
  const int64_t nb = n / 32;
  constexpr int64_t kBytes =
      kType == GgmlType::kQ8_0 ? 34 : kType == GgmlType::kQ4_0 ? 18 : 22;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wb = row + kBytes * b;
    uint8_t* o = out + 32 * b;
    p.d[b * kPanelRows + r] = x86::Half(wb);
    if constexpr (kType == GgmlType::kQ8_0) {
      const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 2));
      Store256(o, _mm256_xor_si256(w, _mm256_set1_epi8(static_cast<char>(0x80))));
    } else {
      // Element j: low nibble of byte j (j < 16), high nibble of byte j - 16.
      const uint8_t* qs = wb + (kType == GgmlType::kQ4_0 ? 2 : 6);
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
      const __m256i both = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
      __m256i u = _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
      if constexpr (kType == GgmlType::kQ5_0) {
        uint32_t qh;
        std::memcpy(&qh, wb + 2, 4);
        // Byte j of `spread` is byte j / 8 of qh; bit j % 8 of it is
        // element j's fifth bit.
        const __m256i spread = _mm256_shuffle_epi8(
            _mm256_set1_epi32(static_cast<int32_t>(qh)),
            _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL,
                              0x0101010101010101LL, 0x0000000000000000LL));
        const __m256i bit = _mm256_set1_epi64x(
            static_cast<int64_t>(0x8040201008040201ULL));
        const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
        u = _mm256_or_si256(u, _mm256_and_si256(set, _mm256_set1_epi8(0x10)));
      }
      Store256(o, u);
    }
  }
}

// Rows [r0, r0 + count) of w into the panel (count <= 16).
template <GgmlType kType>
void RepackK(const uint8_t* w, int64_t row_bytes, int64_t n, int64_t r0,
             int count, RowCodes& rc, PanelK& p) {
  const int64_t nsb = n / 256;
  constexpr int kSubs = kType == GgmlType::kQ6_K ? 16 : 8;
  rc.bytes.assign(kPanelRows * n, 0);
  p.codes.resize(kPanelRows * n);
  p.scales.assign(nsb * kSubs * kPanelRows, 0);
  p.mins.assign(nsb * 8 * kPanelRows * 2, 0);
  p.d.assign(nsb * kPanelRows, 0.f);
  p.dmin.assign(nsb * kPanelRows, 0.f);
  for (int r = 0; r < count; ++r) {
    DecodeRowK<kType>(w + (r0 + r) * row_bytes, n, r, rc.bytes.data() + r * n, p);
  }
  InterleaveRows(rc, n, p.codes.data());
}

template <GgmlType kType>
void Repack32(const uint8_t* w, int64_t row_bytes, int64_t n, int64_t r0,
              int count, RowCodes& rc, Panel32& p) {
  rc.bytes.assign(kPanelRows * n, 0);
  p.codes.resize(kPanelRows * n);
  p.d.assign(n / 32 * kPanelRows, 0.f);
  for (int r = 0; r < count; ++r) {
    DecodeRow32<kType>(w + (r0 + r) * row_bytes, n, r, rc.bytes.data() + r * n, p);
  }
  InterleaveRows(rc, n, p.codes.data());
}

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
template <int kSubs, int RN>
HWY_INLINE void KernelK(const PanelK& p, int64_t n,
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
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, dx), acc[t]);
      acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(s[t]), _mm512_mul_ps(dmin, dx), acc[t]);
    }
  }
  for (int t = 0; t < RN; ++t) StoreRows(y + t * y_stride, acc[t], count);
}

// RN tokens x one 32-block panel. bias32: per token, -offset * (sum of the
// block's 32 activation codes), [T][n / 32] with row stride n / 32.
template <int RN>
HWY_INLINE void Kernel32(const Panel32& p, int64_t n,
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

// Runs `kernel(rn, t)` over tokens [0, T) in tiles of kMaxTokens, then the
// remainder, each with a compile-time tile width.
template <class Kernel>
HWY_INLINE void ForEachTokenTile(int64_t T, const Kernel& kernel) {
  int64_t t = 0;
  for (; t + kMaxTokens <= T; t += kMaxTokens) {
    kernel(std::integral_constant<int, kMaxTokens>(), t);
  }
  switch (T - t) {
    case 7: kernel(std::integral_constant<int, 7>(), t); break;
    case 6: kernel(std::integral_constant<int, 6>(), t); break;
    case 5: kernel(std::integral_constant<int, 5>(), t); break;
    case 4: kernel(std::integral_constant<int, 4>(), t); break;
    case 3: kernel(std::integral_constant<int, 3>(), t); break;
    case 2: kernel(std::integral_constant<int, 2>(), t); break;
    case 1: kernel(std::integral_constant<int, 1>(), t); break;
    default: break;
  }
}

// Panels [g0, g1) (rows 16 g0 .. min(rows, 16 g1)) for all T tokens.
template <GgmlType kType>
HWY_NOINLINE void GemmPanels(const uint8_t* w, int64_t row_bytes,
                             const QuantizedActivations* x, int64_t T,
                             const int32_t* bias32, float* y, int64_t y_stride,
                             int64_t rows, int64_t g0, int64_t g1) {
  const int64_t n = x[0].n;
  thread_local RowCodes rc;
  constexpr bool kK = kType == GgmlType::kQ4_K || kType == GgmlType::kQ5_K ||
                      kType == GgmlType::kQ6_K;
  if constexpr (kK) {
    thread_local PanelK p;
    constexpr int kSubs = kType == GgmlType::kQ6_K ? 16 : 8;
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t r0 = g * kPanelRows;
      const int count = static_cast<int>(std::min<int64_t>(kPanelRows, rows - r0));
      RepackK<kType>(w, row_bytes, n, r0, count, rc, p);
      ForEachTokenTile(T, [&](auto rn, int64_t t) HWY_ATTR {
        KernelK<kSubs, decltype(rn)::value>(p, n, x + t, y + t * y_stride + r0,
                                            y_stride, count);
      });
    }
  } else {
    thread_local Panel32 p;
    const int64_t nb = n / 32;
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t r0 = g * kPanelRows;
      const int count = static_cast<int>(std::min<int64_t>(kPanelRows, rows - r0));
      Repack32<kType>(w, row_bytes, n, r0, count, rc, p);
      ForEachTokenTile(T, [&](auto rn, int64_t t) HWY_ATTR {
        Kernel32<decltype(rn)::value>(p, n, x + t, bias32 + t * nb,
                                      y + t * y_stride + r0, y_stride, count);
      });
    }
  }
}

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
