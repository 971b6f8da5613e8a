// Repacked weight panels of the integer prefill GEMM (quant_gemm.h), shared
// by its two x86 kernel families: 16-row panels for the AVX512-VNNI kernels
// (quant_gemm_vnni-inl.h) and 8-row panels for the AVX2 kernels
// (quant_gemm_avx2-inl.h). Included by quant_gemm.cc once per Highway target
// after quant_dot_x86-inl.h; compiled for x86 targets with AVX2 or better.
//
// A panel holds kRows weight rows x n columns so that one vector of
// 4 * kRows bytes holds 4 consecutive codes of each row ([n / 4][kRows][4],
// llama.cpp's "repacked" layout): one byte dot with the token's 4
// activation codes broadcast adds 4 products into every row's int32 lane,
// and every scale, minimum and offset is a per-lane (per-row) multiply, so
// no horizontal sums are needed.
//
// Repacking happens per call and per panel (not at load time, so the model
// keeps one copy of its weights): a panel's codes are decoded into bytes
// once and multiplied with every token of the call, so its cost is 1 / T of
// the products'. Rows past the matrix's end are zero (codes and scales), so
// they add nothing and are never stored.

// Per-target include guard (Highway's toggle idiom).
#if defined(SKV_SIMD_QUANT_GEMM_PANEL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SKV_SIMD_QUANT_GEMM_PANEL_INL_H_
#undef SKV_SIMD_QUANT_GEMM_PANEL_INL_H_
#else
#define SKV_SIMD_QUANT_GEMM_PANEL_INL_H_
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "hwy/highway.h"
#include "simd/quant_dot.h"

#if SKV_QUANT_DOT_X86

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {
namespace panel {

// K-quants: super-blocks of 256 elements with integer sub-block scales.
// Q4_K / Q5_K: 8 sub-blocks of 32, codes 0..15 / 0..31, y = d * sc * q -
// dmin * mn. Q6_K: 16 sub-blocks of 16, codes 0..63, y = d * sc * (q - 32):
// the -32 becomes a "min" of 32 * sc per 16 elements, subtracted in int32.
template <int kRows>
struct PanelK {
  std::vector<uint8_t> codes;   // [n / 4][kRows][4]
  // Sub-block scales: [n / 256][subs][kRows] int32. The AVX2 kernels apply
  // them with pmaddwd, so there each lane holds the scale in both of its
  // int16 halves (PairScale).
  std::vector<int32_t> scales;
  // Per bsum (16 activations): its weight in the minimum term, two bsums per
  // int32 lane pair: [n / 256][8][kRows][2].
  std::vector<int16_t> mins;
  std::vector<float> d, dmin;  // [n / 256][kRows]
};

// 32-block types (Q8_0, Q4_0, Q5_0): codes as the kernels multiply them
// (ByteDot32Codes); y = d * (code - offset).
template <int kRows>
struct Panel32 {
  std::vector<uint8_t> codes;  // [n / 4][kRows][4]
  std::vector<float> d;        // [n / 32][kRows]
};

// Decoded codes of up to kRows rows, row-major, before interleaving.
struct RowCodes {
  std::vector<uint8_t> bytes;  // [kRows][n]
};

// An int16 scale in both halves of an int32 lane (pmaddwd's multiplier).
HWY_INLINE int32_t PairScale(int s) {
  const uint32_t h = static_cast<uint16_t>(static_cast<int16_t>(s));
  return static_cast<int32_t>(h | (h << 16));
}

template <int kRows>
HWY_INLINE int32_t LaneScale(int s) {
  return kRows == 16 ? s : PairScale(s);
}

template <int kRows>
HWY_INLINE void InterleaveRows(const RowCodes& rc, int64_t n, uint8_t* out) {
  for (int64_t c = 0; c < n / 4; ++c) {
    for (int r = 0; r < kRows; ++r) {
      std::memcpy(out + (c * kRows + r) * 4, rc.bytes.data() + r * n + 4 * c, 4);
    }
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
template <GgmlType kType, int kRows>
HWY_INLINE void DecodeRowK(const uint8_t* row, int64_t n, int r, uint8_t* out,
                           PanelK<kRows>& p) {
  const int64_t nsb = n / 256;
  constexpr int kSubs = kType == GgmlType::kQ6_K ? 16 : 8;
  for (int64_t sb = 0; sb < nsb; ++sb) {
    uint8_t* o = out + 256 * sb;
    int32_t* sc = p.scales.data() + (sb * kSubs) * kRows + r;
    int16_t* mn = p.mins.data() + sb * 8 * kRows * 2 + 2 * r;
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
        sc[j * kRows] = LaneScale<kRows>(s[j]);
        mn[(j / 2) * kRows * 2 + (j % 2)] = static_cast<int16_t>(32 * s[j]);
      }
      p.d[sb * kRows + r] = x86::Half(wb + 208);
      p.dmin[sb * kRows + r] = 0.f;  // the -32 is subtracted in int32
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
        sc[j * kRows] = LaneScale<kRows>(s[j]);
        mn[j * kRows * 2] = mn[j * kRows * 2 + 1] = m[j];
      }
      p.d[sb * kRows + r] = x86::Half(wb);
      p.dmin[sb * kRows + r] = x86::Half(wb + 2);
    }
  }
}

// The codes a 32-block kernel multiplies: w + offset (128 for Q8_0, 8 for
// Q4_0, 16 for Q5_0; the activations' bias4 removes the offset), except
// Q8_0 in the AVX2 kernels (kSignedQ8), which keep the signed codes and
// move their signs onto the activations (pmaddubsw takes at most 128).
template <GgmlType kType, int kRows, bool kSignedQ8>
HWY_INLINE void DecodeRow32(const uint8_t* row, int64_t n, int r, uint8_t* out,
                            Panel32<kRows>& p) {
  const int64_t nb = n / 32;
  constexpr int64_t kBytes =
      kType == GgmlType::kQ8_0 ? 34 : kType == GgmlType::kQ4_0 ? 18 : 22;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* wb = row + kBytes * b;
    uint8_t* o = out + 32 * b;
    p.d[b * kRows + r] = x86::Half(wb);
    if constexpr (kType == GgmlType::kQ8_0) {
      const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb + 2));
      Store256(o, kSignedQ8 ? w : _mm256_xor_si256(w, _mm256_set1_epi8(static_cast<char>(0x80))));
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

// Rows [r0, r0 + count) of w into the panel (count <= kRows).
template <GgmlType kType, int kRows>
void RepackK(const uint8_t* w, int64_t row_bytes, int64_t n, int64_t r0,
             int count, RowCodes& rc, PanelK<kRows>& p) {
  const int64_t nsb = n / 256;
  constexpr int kSubs = kType == GgmlType::kQ6_K ? 16 : 8;
  rc.bytes.assign(kRows * n, 0);
  p.codes.resize(kRows * n);
  p.scales.assign(nsb * kSubs * kRows, 0);
  p.mins.assign(nsb * 8 * kRows * 2, 0);
  p.d.assign(nsb * kRows, 0.f);
  p.dmin.assign(nsb * kRows, 0.f);
  for (int r = 0; r < count; ++r) {
    DecodeRowK<kType, kRows>(w + (r0 + r) * row_bytes, n, r, rc.bytes.data() + r * n, p);
  }
  InterleaveRows<kRows>(rc, n, p.codes.data());
}

template <GgmlType kType, int kRows, bool kSignedQ8>
void Repack32(const uint8_t* w, int64_t row_bytes, int64_t n, int64_t r0,
              int count, RowCodes& rc, Panel32<kRows>& p) {
  rc.bytes.assign(kRows * n, 0);
  p.codes.resize(kRows * n);
  p.d.assign(n / 32 * kRows, 0.f);
  for (int r = 0; r < count; ++r) {
    DecodeRow32<kType, kRows, kSignedQ8>(w + (r0 + r) * row_bytes, n, r,
                                         rc.bytes.data() + r * n, p);
  }
  InterleaveRows<kRows>(rc, n, p.codes.data());
}

// Runs `kernel(rn, t)` over tokens [0, T) in tiles of kMaxTokens, then the
// remainder, each with a compile-time tile width.
template <int kMaxTokens, class Kernel>
HWY_INLINE void ForEachTokenTile(int64_t T, const Kernel& kernel) {
  int64_t t = 0;
  for (; t + kMaxTokens <= T; t += kMaxTokens) {
    kernel(std::integral_constant<int, kMaxTokens>(), t);
  }
  switch (T - t) {
    case 7: if constexpr (kMaxTokens > 7) kernel(std::integral_constant<int, 7>(), t); break;
    case 6: if constexpr (kMaxTokens > 6) kernel(std::integral_constant<int, 6>(), t); break;
    case 5: if constexpr (kMaxTokens > 5) kernel(std::integral_constant<int, 5>(), t); break;
    case 4: if constexpr (kMaxTokens > 4) kernel(std::integral_constant<int, 4>(), t); break;
    case 3: kernel(std::integral_constant<int, 3>(), t); break;
    case 2: kernel(std::integral_constant<int, 2>(), t); break;
    case 1: kernel(std::integral_constant<int, 1>(), t); break;
    default: break;
  }
}

// Panels [g0, g1) (rows kRows g0 .. min(rows, kRows g1)) for all T tokens:
// repacks each panel, then runs Kernels::K<kType, RN> or Kernels::B32<kType,
// RN> over token tiles. bias32: [T][n / 32], -offset * (sum of each block's
// activation codes) for the 32-block types.
template <class Kernels, GgmlType kType>
HWY_INLINE void GemmPanels(const uint8_t* w, int64_t row_bytes,
                           const QuantizedActivations* x, int64_t T,
                           const int32_t* bias32, float* y, int64_t y_stride,
                           int64_t rows, int64_t g0, int64_t g1) {
  constexpr int kRows = Kernels::kPanelRows;
  const int64_t n = x[0].n;
  thread_local RowCodes rc;
  constexpr bool kK = kType == GgmlType::kQ4_K || kType == GgmlType::kQ5_K ||
                      kType == GgmlType::kQ6_K;
  if constexpr (kK) {
    thread_local PanelK<kRows> p;
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t r0 = g * kRows;
      const int count = static_cast<int>(std::min<int64_t>(kRows, rows - r0));
      RepackK<kType, kRows>(w, row_bytes, n, r0, count, rc, p);
      ForEachTokenTile<Kernels::kMaxTokens>(T, [&](auto rn, int64_t t) HWY_ATTR {
        Kernels::template K<kType, decltype(rn)::value>(
            p, n, x + t, y + t * y_stride + r0, y_stride, count);
      });
    }
  } else {
    thread_local Panel32<kRows> p;
    const int64_t nb = n / 32;
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t r0 = g * kRows;
      const int count = static_cast<int>(std::min<int64_t>(kRows, rows - r0));
      Repack32<kType, kRows, Kernels::kSignedQ8>(w, row_bytes, n, r0, count, rc, p);
      ForEachTokenTile<Kernels::kMaxTokens>(T, [&](auto rn, int64_t t) HWY_ATTR {
        Kernels::template B32<kType, decltype(rn)::value>(
            p, n, x + t, bias32 + t * nb, y + t * y_stride + r0, y_stride, count);
      });
    }
  }
}

}  // namespace panel
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#endif  // SKV_QUANT_DOT_X86

#endif  // SKV_SIMD_QUANT_GEMM_PANEL_INL_H_ toggle
