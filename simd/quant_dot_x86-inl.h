// Per-target x86 kernels of the integer dot path (quant_dot.h), included by
// quant_dot.cc once per Highway target. Compiled for AVX2 and better; the
// other targets keep quant_dot.cc's int16 kernels (SKV_QUANT_DOT_X86 is 0).
//
// Weights stay bytes. A 256-bit vector holds 32 unsigned weight codes and the
// 32 int8 activations they multiply; pmaddubsw sums products in pairs into
// int16 lanes and pmaddwd sums those pairs into int32 lanes, with a K-quant
// sub-block scale as pmaddwd's second operand, so a scale costs nothing
// extra. On AVX3_DL, vpdpbusd does both steps for the 32-element block types.
// Every int32 lane sum is exact; per block (or super-block) the lanes are
// summed into the block's integer total, which enters the row's single f32
// accumulator through one fused multiply-add (quant_dot.h, "One
// arithmetic"). Eight rows go together, one per f32 lane: their lanes are
// reduced with three rounds of phaddd (LaneSums8), and one vector FMA adds a
// block to all eight rows.
//
// pmaddubsw saturates its int16 pair sums: every code fed to it is at most
// 128 in magnitude and |x| <= 127 (the Q8 quantisers' range), so a pair sum
// stays within 2 * 128 * 127 = 32512 and never saturates.

// Per-target include guard (Highway's toggle idiom).
#if defined(SKV_SIMD_QUANT_DOT_X86_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SKV_SIMD_QUANT_DOT_X86_INL_H_
#undef SKV_SIMD_QUANT_DOT_X86_INL_H_
#else
#define SKV_SIMD_QUANT_DOT_X86_INL_H_
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "hwy/highway.h"
#include "hwy/cache_control.h"
#include "simd/quant_dot.h"

#undef SKV_QUANT_DOT_X86
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
#define SKV_QUANT_DOT_X86 1
#include <immintrin.h>

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {
namespace x86 {
namespace hn = hwy::HWY_NAMESPACE;

using D8 = hn::Full256<uint8_t>;
using DS8 = hn::Full256<int8_t>;
using D16 = hn::Full256<int16_t>;
using DU16 = hn::Full256<uint16_t>;
using D32 = hn::Full256<int32_t>;
using DF = hn::Full256<float>;
using V8 = hn::Vec<D8>;
using VS8 = hn::Vec<DS8>;
using V16 = hn::Vec<D16>;
using V32 = hn::Vec<D32>;
using VF = hn::Vec<DF>;

// IEEE half at p -> f32 (vcvtph2ps: exact, AVX2 targets have F16C).
HWY_INLINE float Half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// pmaddubsw: lane i = u[2i] * s[2i] + u[2i+1] * s[2i+1] (see the range note
// at the top).
HWY_INLINE V16 MulPairsU8(V8 u, VS8 s) {
  return V16{_mm256_maddubs_epi16(u.raw, s.raw)};
}
// pmaddwd: lane i = a[2i] * b[2i] + a[2i+1] * b[2i+1] in int32.
HWY_INLINE V32 MulPairs16(V16 a, V16 b) {
  return V32{_mm256_madd_epi16(a.raw, b.raw)};
}

// acc + sums of four u8 * s8 products per int32 lane. With VNNI any u8 is
// fine; otherwise u <= 128 (pmaddubsw).
HWY_INLINE V32 DotQuads(V32 acc, V8 u, VS8 s) {
#if HWY_TARGET == HWY_AVX3_DL
  // vpdpbusd, EVEX form. Highway 1.0.3 has no op for it, and its AVX3_DL
  // target attributes name avxvnni rather than avx512vnni, so the intrinsic
  // does not compile here; hwy only selects AVX3_DL on CPUs with AVX512-VNNI.
  __m256i r = acc.raw;
  asm("vpdpbusd %2, %1, %0" : "+v"(r) : "v"(u.raw), "v"(s.raw));
  return V32{r};
#else
  return hn::Add(acc, MulPairs16(MulPairsU8(u, s), hn::Set(D16(), 1)));
#endif
}

HWY_INLINE V8 LowNibbles(V8 v) { return hn::And(v, hn::Set(D8(), 0x0F)); }
HWY_INLINE V8 HighNibbles(V8 v) {
  return hn::And(hn::BitCast(D8(), hn::ShiftRight<4>(hn::BitCast(DU16(), v))),
                 hn::Set(D8(), 0x0F));
}

// ---------------------------------------------------------------- 32-blocks
//
// Q8_0 / Q4_0 / Q5_0 against Q8_0 activations. Ints() returns int32 lanes
// whose sum is exactly sum_j w_j * x_j of one block (w signed). Kernels that
// multiply unsigned codes (w + offset) start from x.bias4, which holds
// -offset * (sum of each 4 activations), so the offset cancels in the lanes.

struct X8_0 {
  static HWY_INLINE V32 Ints(const uint8_t* wb, const int8_t* xq,
                             const int32_t* bias4) {
    const VS8 w = hn::LoadU(DS8(), reinterpret_cast<const int8_t*>(wb + 2));
    const VS8 x = hn::LoadU(DS8(), xq);
#if HWY_TARGET == HWY_AVX3_DL
    // w + 128 as unsigned codes; bias4 removes 128 * sum(x).
    const V8 u = hn::BitCast(D8(), hn::Xor(w, hn::Set(DS8(), -128)));
    return DotQuads(hn::LoadU(D32(), bias4), u, x);
#else
    // |w| (at most 128) times x carrying w's sign: no offset to remove.
    const V8 u = hn::BitCast(D8(), hn::Abs(w));
    const VS8 s{_mm256_sign_epi8(x.raw, w.raw)};
    return DotQuads(hn::Zero(D32()), u, s);
#endif
  }
};

// 16 bytes of nibbles -> 32 codes: element j is the low nibble of byte j,
// element j + 16 the high nibble.
HWY_INLINE V8 NibbleBlock(const uint8_t* qs) {
  const hn::Full128<uint8_t> d128;
  const hn::Full128<uint16_t> du128;
  const auto v = hn::LoadU(d128, qs);
  const auto k15 = hn::Set(d128, 0x0F);
  const auto lo = hn::And(v, k15);
  const auto hi =
      hn::And(hn::BitCast(d128, hn::ShiftRight<4>(hn::BitCast(du128, v))), k15);
  return hn::Combine(D8(), hi, lo);
}

struct X4_0 {  // codes w + 8
  static HWY_INLINE V32 Ints(const uint8_t* wb, const int8_t* xq,
                             const int32_t* bias4) {
    return DotQuads(hn::LoadU(D32(), bias4), NibbleBlock(wb + 2),
                    hn::LoadU(DS8(), xq));
  }
};

// Byte j of the result selects byte j / 8 of a broadcast u32 (pshufb works
// within 128-bit halves, and every half holds all four bytes).
alignas(32) constexpr uint8_t kByteOfBit[32] = {
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
    2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
alignas(32) constexpr uint8_t kBitOfByte[32] = {
    1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128,
    1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};

struct X5_0 {  // codes w + 16; qh bit j is the fifth bit of element j
  static HWY_INLINE V32 Ints(const uint8_t* wb, const int8_t* xq,
                             const int32_t* bias4) {
    uint32_t qh;
    std::memcpy(&qh, wb + 2, 4);
    const D8 d;
    const V8 bytes = hn::TableLookupBytes(
        hn::BitCast(d, hn::Set(D32(), static_cast<int32_t>(qh))),
        hn::Load(d, kByteOfBit));
    const V8 fifth = hn::And(
        hn::VecFromMask(d, hn::TestBit(bytes, hn::Load(d, kBitOfByte))),
        hn::Set(d, 0x10));
    return DotQuads(hn::LoadU(D32(), bias4), hn::Or(NibbleBlock(wb + 6), fifth),
                    hn::LoadU(DS8(), xq));
  }
};

// Lane i of the result is the sum of v[i]'s eight int32 lanes (exact).
HWY_INLINE V32 LaneSums8(const V32* v) {
  const __m256i a01 = _mm256_hadd_epi32(v[0].raw, v[1].raw);
  const __m256i a23 = _mm256_hadd_epi32(v[2].raw, v[3].raw);
  const __m256i a45 = _mm256_hadd_epi32(v[4].raw, v[5].raw);
  const __m256i a67 = _mm256_hadd_epi32(v[6].raw, v[7].raw);
  // Per 128-bit half: [v0, v1, v2, v3] (lanes 0-3 / 4-7 of each).
  const __m256i b0123 = _mm256_hadd_epi32(a01, a23);
  const __m256i b4567 = _mm256_hadd_epi32(a45, a67);
  const __m256i lo = _mm256_permute2x128_si256(b0123, b4567, 0x20);
  const __m256i hi = _mm256_permute2x128_si256(b0123, b4567, 0x31);
  return V32{_mm256_add_epi32(lo, hi)};
}

// Rows that go together, one per f32 lane.
constexpr int kGroupRows = 8;

// The f16 at p (a block's d, dmin) of each of kCount rows, rows `row_bytes`
// apart, as 8 f32 lanes (0 past kCount). vcvtph2ps is exact.
template <int kCount>
HWY_INLINE VF Halves8(const uint8_t* p, int64_t row_bytes) {
  const auto h = [&](int i) -> short {
    uint16_t v = 0;
    if (i < kCount) std::memcpy(&v, p + i * row_bytes, 2);
    return static_cast<short>(v);
  };
  return VF{_mm256_cvtph_ps(_mm_setr_epi16(h(0), h(1), h(2), h(3), h(4), h(5), h(6), h(7)))};
}

// The group reads its rows block by block, eight streams at once, which
// one core's hardware prefetchers do not follow well; so while it works on
// block b of `blocks`, it requests the b-th share of a group's bytes
// kGroupPrefetchBytes ahead (contiguous rows) into L2, in memory order, a
// few lines at a time. Measured on one Zen 4 core (skv_kernel_bench
// DecodeGemv q8_0_262144x640, groups of 5.4 KB, one thread): into L1
// (prefetcht0) 1, 2, 4 groups ahead 12-20 ms; into L2 (prefetcht1) 1 / 2 /
// 4 / 8 groups ahead 12-15 / 8.8 / 7.7-7.9 / 8.4-9.1 ms; the row-by-row
// kernel before it 8.7-10 ms. A distance in bytes (not groups) keeps wide
// rows (TinyLlama's ffn_down: 25 KB groups) from prefetching past the
// thread's rows.
constexpr int64_t kGroupPrefetchBytes = 20 << 10;

// Nothing at or past `limit` (the end of this thread's rows: the rows after
// them belong to another thread, whose core would not see the lines).
HWY_INLINE void PrefetchGroupAhead(const uint8_t* row0, int64_t row_bytes,
                                   int64_t b, int64_t blocks,
                                   const uint8_t* limit) {
  const int64_t bytes = kGroupRows * row_bytes;
  const uint8_t* ahead = row0 + kGroupPrefetchBytes;
  const int64_t begin = bytes * b / blocks, end = bytes * (b + 1) / blocks;
  for (int64_t o = begin & ~int64_t{63}; o < end && ahead + o < limit; o += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(ahead + o), _MM_HINT_T1);
  }
}

// Up to 8 rows of a 32-block type from row0, rows `row_bytes` apart, with
// one row per f32 lane: block by block, the rows' int32 lanes are summed
// into one vector of the rows' exact block sums (LaneSums8), which enters
// the rows' accumulators through one fused multiply-add. So each row
// follows quant_dot.h's arithmetic (one chain of FMAs in block order) while
// the chain costs one vector FMA per block for all 8 rows.
template <class Fmt, int kCount>
HWY_INLINE void RowGroup32(const uint8_t* row0, int64_t row_bytes,
                           int64_t type_size, const QuantizedActivations& x,
                           const uint8_t* limit, float* y) {
  const DF df;
  const int64_t blocks = x.n / 32;
  const int8_t* xq = x.q.data();
  const float* xd = x.d.data();
  const int32_t* bias4 = x.bias4.data();  // [n / 4]
  VF acc = hn::Zero(df);
  for (int64_t b = 0; b < blocks; ++b) {
    PrefetchGroupAhead(row0, row_bytes, b, blocks, limit);
    const uint8_t* first = row0 + b * type_size;
    V32 ints[8];
    for (int i = 0; i < 8; ++i) {
      ints[i] = i < kCount ? Fmt::Ints(first + i * row_bytes, xq + 32 * b, bias4 + 8 * b)
                           : hn::Zero(D32());
    }
    const VF scale = hn::Mul(Halves8<kCount>(first, row_bytes), hn::Set(df, xd[b]));
    acc = hn::MulAdd(hn::ConvertTo(df, LaneSums8(ints)), scale, acc);
  }
  alignas(32) float lanes[8];
  hn::Store(acc, df, lanes);
  std::memcpy(y, lanes, kCount * sizeof(float));
}

// Calls fn(std::integral_constant<int, count>) for count in [1, kGroupRows].
template <class Fn>
HWY_INLINE void WithCount(int count, const Fn& fn) {
  switch (count) {
    case 1: return fn(std::integral_constant<int, 1>());
    case 2: return fn(std::integral_constant<int, 2>());
    case 3: return fn(std::integral_constant<int, 3>());
    case 4: return fn(std::integral_constant<int, 4>());
    case 5: return fn(std::integral_constant<int, 5>());
    case 6: return fn(std::integral_constant<int, 6>());
    case 7: return fn(std::integral_constant<int, 7>());
    default: return fn(std::integral_constant<int, 8>());
  }
}

// Rows [r0, r1) in groups of kGroupRows: group(count, row0, y0) with count
// a compile-time constant (kGroupRows, then the remainder).
template <class Group>
HWY_INLINE void ForEachRowGroup(int64_t r0, int64_t r1, const Group& group) {
  int64_t r = r0;
  for (; r + kGroupRows <= r1; r += kGroupRows) {
    group(std::integral_constant<int, kGroupRows>(), r);
  }
  if (r < r1) WithCount(static_cast<int>(r1 - r), [&](auto count) HWY_ATTR { group(count, r); });
}

template <class Fmt>
HWY_NOINLINE void Rows32(const uint8_t* w, int64_t row_bytes, int64_t type_size,
                         const QuantizedActivations& x, float* y, int64_t r0,
                         int64_t r1) {
  const uint8_t* limit = w + r1 * row_bytes;
  ForEachRowGroup(r0, r1, [&](auto count, int64_t r) HWY_ATTR {
    RowGroup32<Fmt, decltype(count)::value>(w + r * row_bytes, row_bytes, type_size, x,
                                            limit, y + r);
  });
}

// ---------------------------------------------------------------- K-quants
//
// Q4_K / Q5_K / Q6_K against Q8_K activations (256 per super-block, f32
// scale, sums of each 16 activations in x.bsums). Ints() returns int32 lanes
// whose sum is the super-block's scaled integer dot, and in *mins the lanes
// of its mins term (Q4_K / Q5_K; zero for Q6_K).

// Q4_K / Q5_K scales: 12 bytes -> 8 six-bit scales and 8 six-bit mins, four
// at a time in 32-bit words (same layout as UnpackScaleMinK4).
HWY_INLINE void ScalesMinsK4(const uint8_t* p, uint8_t* sc, uint8_t* mn) {
  uint32_t w[3];
  std::memcpy(w, p, 12);
  // Bytes 0..3 / 4..7: low six bits are sc[0..3] / mn[0..3]; their top two
  // bits are bits 4..5 of sc[4..7] / mn[4..7], whose low nibbles are bytes
  // 8..11 (low nibble: scale, high nibble: min).
  const uint32_t sc_lo = w[0] & 0x3F3F3F3Fu;
  const uint32_t mn_lo = w[1] & 0x3F3F3F3Fu;
  const uint32_t sc_hi = (w[2] & 0x0F0F0F0Fu) | ((w[0] >> 2) & 0x30303030u);
  const uint32_t mn_hi = ((w[2] >> 4) & 0x0F0F0F0Fu) | ((w[1] >> 2) & 0x30303030u);
  std::memcpy(sc, &sc_lo, 4);
  std::memcpy(sc + 4, &sc_hi, 4);
  std::memcpy(mn, &mn_lo, 4);
  std::memcpy(mn + 4, &mn_hi, 4);
}

// Group g (64 elements) reads bytes 32g..32g+31 of the codes: low nibbles
// are sub-block 2g, high nibbles 2g+1. Q5_K: bits 2g and 2g+1 of qh[l] are
// the fifth bits of element l of those sub-blocks.
// pshufb indices that broadcast int16 lane k of a 128-bit vector (held in
// both halves) to all 16 int16 lanes: a K-quant sub-block scale as
// pmaddwd's multiplier, one shuffle instead of a scalar load and broadcast.
struct K4ScaleIndex {
  alignas(32) uint8_t idx[8][32];
  constexpr K4ScaleIndex() : idx{} {
    for (int k = 0; k < 8; ++k) {
      for (int j = 0; j < 32; ++j) idx[k][j] = static_cast<uint8_t>(2 * k + (j & 1));
    }
  }
};
constexpr K4ScaleIndex kK4ScaleIndex;

template <bool kFiveBit>
struct X45_K {
  static constexpr int kD = 0;     // byte offset of d (f16)
  static constexpr int kDmin = 2;  // byte offset of dmin (f16)
  // The super-block's int32 lanes, and in *mins the lanes of its mins term
  // (sum_j mn[j] * (bsum[2j] + bsum[2j+1]) over the lanes).
  static HWY_INLINE V32 Ints(const uint8_t* wb, const int8_t* xq,
                             const int16_t* bsums, V32* mins) {
    const D8 d8;
    alignas(16) uint8_t sc[16], mn[16];
    ScalesMinsK4(wb + 4, sc, mn);
    const uint8_t* q = wb + (kFiveBit ? 48 : 16);  // [128]
    V8 qh = hn::Zero(d8);                          // [32] Q5_K only
    if (kFiveBit) qh = hn::LoadU(d8, wb + 16);
    const V8 k16 = hn::Set(d8, 0x10);
    // The 8 scales as int16 in both 128-bit halves.
    const __m256i sc16 = _mm256_broadcastsi128_si256(
        _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc))));
    const auto scale = [&](int k) {
      return V16{_mm256_shuffle_epi8(
          sc16, _mm256_load_si256(reinterpret_cast<const __m256i*>(kK4ScaleIndex.idx[k])))};
    };
    V32 isum = hn::Zero(D32());
    for (int g = 0; g < 4; ++g) {
      const V8 v = hn::LoadU(d8, q + 32 * g);
      V8 lo = LowNibbles(v);
      V8 hi = HighNibbles(v);
      if (kFiveBit) {
        // Bit 2g to bit 4 (low sub-block), bit 2g+1 to bit 4 (high one).
        const auto h = hn::ShiftRightSame(hn::BitCast(DU16(), qh), 2 * g);
        lo = hn::Or(lo, hn::And(hn::BitCast(d8, hn::ShiftLeft<4>(h)), k16));
        hi = hn::Or(hi, hn::And(hn::BitCast(d8, hn::ShiftLeft<3>(h)), k16));
      }
      const V16 p_lo = MulPairsU8(lo, hn::LoadU(DS8(), xq + 64 * g));
      const V16 p_hi = MulPairsU8(hi, hn::LoadU(DS8(), xq + 64 * g + 32));
      isum = hn::Add(isum, MulPairs16(p_lo, scale(2 * g)));
      isum = hn::Add(isum, MulPairs16(p_hi, scale(2 * g + 1)));
    }
    // mn[j] in int16 lanes 2j and 2j + 1, against the 16 bsums.
    const __m128i m16 = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mn)));
    const V16 mdup{_mm256_set_m128i(_mm_unpackhi_epi16(m16, m16), _mm_unpacklo_epi16(m16, m16))};
    *mins = MulPairs16(hn::LoadU(D16(), bsums), mdup);
    return isum;
  }
};

// pshufb indices that spread the 8 int16 scales of a Q6_K half (duplicated
// in both 128-bit halves) over one 32-element unit: unit k's low half takes
// scale 2k, its high half scale 2k + 1 (16 elements each, 2 per int16 lane).
struct Q6ScaleIndex {
  alignas(32) uint8_t idx[4][32];
  constexpr Q6ScaleIndex() : idx{} {
    for (int k = 0; k < 4; ++k) {
      for (int j = 0; j < 32; ++j) {
        const int s = 2 * k + j / 16;  // scale of this half of the unit
        idx[k][j] = static_cast<uint8_t>(2 * s + (j & 1));
      }
    }
  }
};
constexpr Q6ScaleIndex kQ6ScaleIndex;

// Q6_K: codes q + 32 in [0, 63] (4 low bits from ql, 2 high from qh), signed
// 8-bit scales per 16 elements; the +32 is removed with the activation sums.
struct X6_K {
  static constexpr int kD = 208;   // byte offset of d (f16)
  static constexpr int kDmin = -1;  // no mins: the -32 leaves in int32
  static HWY_INLINE V32 Ints(const uint8_t* wb, const int8_t* xq,
                             const int16_t* bsums, V32* mins) {
    const D8 d8;
    const DU16 du16;
    const int8_t* sc = reinterpret_cast<const int8_t*>(wb + 192);  // [16]
    const V8 k48 = hn::Set(d8, 0x30);
    V32 isum = hn::Zero(D32());
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = wb + 64 * half;        // [64]
      const uint8_t* qh = wb + 128 + 32 * half;  // [32]
      const int8_t* x = xq + 128 * half;
      const V8 a = hn::LoadU(d8, ql);
      const V8 c = hn::LoadU(d8, ql + 32);
      const V8 h = hn::LoadU(d8, qh);
      const auto h16 = hn::BitCast(du16, h);
      // Elements l, l+32, l+64, l+96 of the half: high bits 0-1, 2-3, 4-5,
      // 6-7 of qh[l], moved to bits 4-5.
      const V8 q1 = hn::Or(LowNibbles(a), hn::And(hn::BitCast(d8, hn::ShiftLeft<4>(h16)), k48));
      const V8 q2 = hn::Or(LowNibbles(c), hn::And(hn::BitCast(d8, hn::ShiftLeft<2>(h16)), k48));
      const V8 q3 = hn::Or(HighNibbles(a), hn::And(h, k48));
      const V8 q4 = hn::Or(HighNibbles(c), hn::And(hn::BitCast(d8, hn::ShiftRight<2>(h16)), k48));
      const hn::Full128<int16_t> d128;
      const auto s8 = hn::PromoteTo(d128, hn::LoadU(hn::Full64<int8_t>(), sc + 8 * half));
      const V8 scales = hn::BitCast(d8, hn::Combine(D16(), s8, s8));
      const auto unit = [&](V8 codes, const int8_t* xs, int k) {
        const V16 s = hn::BitCast(
            D16(), hn::TableLookupBytes(scales, hn::Load(d8, kQ6ScaleIndex.idx[k])));
        return MulPairs16(MulPairsU8(codes, hn::LoadU(DS8(), xs)), s);
      };
      isum = hn::Add(isum, hn::Add(unit(q1, x, 0), unit(q2, x + 32, 1)));
      isum = hn::Add(isum, hn::Add(unit(q3, x + 64, 2), unit(q4, x + 96, 3)));
    }
    // Remove 32 * sum_s sc[s] * bsum[s].
    const V16 sc16 = hn::PromoteTo(D16(), hn::LoadU(hn::Full128<int8_t>(), sc));
    const V32 corr = MulPairs16(sc16, hn::LoadU(D16(), bsums));
    *mins = hn::Zero(D32());
    return hn::Sub(isum, hn::ShiftLeft<5>(corr));
  }
};

// Up to 8 rows of a K-quant type, one row per f32 lane, as RowGroup32:
// per super-block one FMA of the rows' exact sums with d_w * d_x, and for
// Q4_K / Q5_K one of their mins terms with -dmin_w * d_x.
template <class Fmt, int kCount>
HWY_INLINE void RowGroup256(const uint8_t* row0, int64_t row_bytes,
                            int64_t type_size, const QuantizedActivations& x,
                            const uint8_t* limit, float* y) {
  const DF df;
  const int64_t blocks = x.n / 256;
  const int8_t* xq = x.q.data();
  const float* xd = x.d.data();
  const int16_t* bsums = x.bsums.data();  // [n / 16]
  VF acc = hn::Zero(df);
  for (int64_t b = 0; b < blocks; ++b) {
    PrefetchGroupAhead(row0, row_bytes, b, blocks, limit);
    const uint8_t* first = row0 + b * type_size;
    V32 ints[8], mins[8];
    for (int i = 0; i < 8; ++i) {
      if (i < kCount) {
        ints[i] = Fmt::Ints(first + i * row_bytes, xq + 256 * b, bsums + 16 * b, &mins[i]);
      } else {
        ints[i] = mins[i] = hn::Zero(D32());
      }
    }
    const VF dx = hn::Set(df, xd[b]);
    const VF d = hn::Mul(Halves8<kCount>(first + Fmt::kD, row_bytes), dx);
    acc = hn::MulAdd(hn::ConvertTo(df, LaneSums8(ints)), d, acc);
    if constexpr (Fmt::kDmin >= 0) {
      const VF dmin = hn::Mul(Halves8<kCount>(first + Fmt::kDmin, row_bytes), dx);
      acc = hn::NegMulAdd(hn::ConvertTo(df, LaneSums8(mins)), dmin, acc);
    }
  }
  alignas(32) float lanes[8];
  hn::Store(acc, df, lanes);
  std::memcpy(y, lanes, kCount * sizeof(float));
}

template <class Fmt>
HWY_NOINLINE void Rows256(const uint8_t* w, int64_t row_bytes,
                          int64_t type_size, const QuantizedActivations& x,
                          float* y, int64_t r0, int64_t r1) {
  const uint8_t* limit = w + r1 * row_bytes;
  ForEachRowGroup(r0, r1, [&](auto count, int64_t r) HWY_ATTR {
    RowGroup256<Fmt, decltype(count)::value>(w + r * row_bytes, row_bytes, type_size, x,
                                             limit, y + r);
  });
}

}  // namespace x86
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#else
#define SKV_QUANT_DOT_X86 0
#endif  // HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2

#endif  // SKV_SIMD_QUANT_DOT_X86_INL_H_ toggle
