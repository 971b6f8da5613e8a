// Per-target x86 kernels of the tiled integer GEMM (quant_gemm.h), included
// by quant_gemm.cc once per Highway target after quant_dot_x86-inl.h, whose
// byte-dot helpers (DotQuads, NibbleBlock, ScalesMinsK4, ...) they reuse.
// Compiled for AVX2 and better (SKV_QUANT_DOT_X86); other targets run
// MatVecQ8 per token.
//
// A tile is RM weight rows x RN tokens. For each weight block the tile
// decodes each row's codes once into registers (nibble unpacking, fifth
// bits, K-quant scales) and multiplies them with the RN tokens' activation
// blocks. Per (row, token) the arithmetic is exactly that of Rows32 /
// Rows256 in quant_dot_x86-inl.h: the same exact int32 block sums (any
// integer order gives the same sum), the same d_w * d_x products, the same
// two f32 accumulators (even / odd blocks), the same final reduction. So the
// tiled result equals MatVecQ8's bit for bit.
//
// The integer multiply-adds here are the same pmaddubsw / pmaddwd (or
// vpdpbusd) as the row kernels; on AVX3_DL the pmaddwd + add that applies a
// K-quant sub-block scale becomes one vpdpwssd.

// Per-target include guard (Highway's toggle idiom).
#if defined(SKV_SIMD_QUANT_GEMM_X86_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SKV_SIMD_QUANT_GEMM_X86_INL_H_
#undef SKV_SIMD_QUANT_GEMM_X86_INL_H_
#else
#define SKV_SIMD_QUANT_GEMM_X86_INL_H_
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "hwy/highway.h"
#include "simd/quant_dot.h"

#if SKV_QUANT_DOT_X86

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {
namespace x86 {

// acc + pmaddwd(a, b), exact in int32 (no saturation either way).
HWY_INLINE V32 DotPairs16(V32 acc, V16 a, V16 b) {
#if HWY_TARGET == HWY_AVX3_DL
  // vpdpwssd (AVX512-VNNI, EVEX form): inline asm for the reason given at
  // DotQuads in quant_dot_x86-inl.h.
  __m256i r = acc.raw;
  asm("vpdpwssd %2, %1, %0" : "+v"(r) : "v"(a.raw), "v"(b.raw));
  return V32{r};
#else
  return hn::Add(acc, MulPairs16(a, b));
#endif
}

// ---------------------------------------------------------------- 32-blocks
//
// Decode(): one row's block as unsigned codes (plus, for AVX2 Q8_0, the
// signed codes whose signs move onto the activations). Ints(): the block's
// int32 lanes against one token, equal to the row kernel's Fmt::Ints.

struct G8_0 {
  struct W {
    V8 u;   // [32] codes as the byte dot multiplies them
    VS8 s;  // [32] signed codes (AVX2: their signs go onto x)
  };
  static HWY_INLINE W Decode(const uint8_t* wb) {
    const VS8 w = hn::LoadU(DS8(), reinterpret_cast<const int8_t*>(wb + 2));
#if HWY_TARGET == HWY_AVX3_DL
    return W{hn::BitCast(D8(), hn::Xor(w, hn::Set(DS8(), -128))), w};
#else
    return W{hn::BitCast(D8(), hn::Abs(w)), w};
#endif
  }
  static HWY_INLINE V32 Ints(const W& w, const int8_t* xq, const int32_t* bias4) {
    const VS8 x = hn::LoadU(DS8(), xq);
#if HWY_TARGET == HWY_AVX3_DL
    return DotQuads(hn::LoadU(D32(), bias4), w.u, x);
#else
    (void)bias4;
    return DotQuads(hn::Zero(D32()), w.u, VS8{_mm256_sign_epi8(x.raw, w.s.raw)});
#endif
  }
};

// Q4_0 / Q5_0: unsigned codes w + 8 / w + 16; bias4 removes the offset.
struct G4_0 {
  struct W {
    V8 u;  // [32]
  };
  static HWY_INLINE W Decode(const uint8_t* wb) { return W{NibbleBlock(wb + 2)}; }
  static HWY_INLINE V32 Ints(const W& w, const int8_t* xq, const int32_t* bias4) {
    return DotQuads(hn::LoadU(D32(), bias4), w.u, hn::LoadU(DS8(), xq));
  }
};

struct G5_0 {
  using W = G4_0::W;
  static HWY_INLINE W Decode(const uint8_t* wb) {
    uint32_t qh;  // bit j is the fifth bit of element j
    std::memcpy(&qh, wb + 2, 4);
    const D8 d;
    const V8 bytes = hn::TableLookupBytes(
        hn::BitCast(d, hn::Set(D32(), static_cast<int32_t>(qh))),
        hn::Load(d, kByteOfBit));
    const V8 fifth = hn::And(
        hn::VecFromMask(d, hn::TestBit(bytes, hn::Load(d, kBitOfByte))),
        hn::Set(d, 0x10));
    return W{hn::Or(NibbleBlock(wb + 6), fifth)};
  }
  static HWY_INLINE V32 Ints(const W& w, const int8_t* xq, const int32_t* bias4) {
    return G4_0::Ints(w, xq, bias4);
  }
};

// One RM x RN tile over all blocks of 32-block rows. w: first row of the
// tile, x: first token, y: y[first token][first row].
template <class G, int RM, int RN>
HWY_INLINE void Tile32(const uint8_t* w, int64_t row_bytes, int64_t type_size,
                       int64_t blocks, const QuantizedActivations* x, float* y,
                       int64_t y_stride) {
  const DF df;
  const int8_t* xq[RN];     // [RN] -> [n]
  const float* xd[RN];      // [RN] -> [n / 32]
  const int32_t* xb[RN];    // [RN] -> [n / 4]
  for (int t = 0; t < RN; ++t) {
    xq[t] = x[t].q.data();
    xd[t] = x[t].d.data();
    xb[t] = x[t].bias4.data();
  }
  // Rows32's two accumulators (even / odd blocks) per (row, token).
  VF acc0[RM][RN], acc1[RM][RN];
#pragma GCC unroll 4
  for (int r = 0; r < RM; ++r) {
#pragma GCC unroll 8
    for (int t = 0; t < RN; ++t) acc0[r][t] = acc1[r][t] = hn::Zero(df);
  }
  const auto step = [&](int64_t b, VF (&acc)[RM][RN]) HWY_ATTR {
    typename G::W dec[RM];  // [RM] decoded once, used RN times
    float dw[RM];           // [RM] block scales
#pragma GCC unroll 4
    for (int r = 0; r < RM; ++r) {
      const uint8_t* blk = w + r * row_bytes + b * type_size;
      dec[r] = G::Decode(blk);
      dw[r] = Half(blk);
    }
#pragma GCC unroll 8
    for (int t = 0; t < RN; ++t) {
      const float dx = xd[t][b];
#pragma GCC unroll 4
      for (int r = 0; r < RM; ++r) {
        const V32 i = G::Ints(dec[r], xq[t] + 32 * b, xb[t] + 8 * b);
        acc[r][t] = hn::MulAdd(hn::ConvertTo(df, i), hn::Set(df, dw[r] * dx),
                               acc[r][t]);
      }
    }
  };
  int64_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    step(b, acc0);
    step(b + 1, acc1);
  }
  if (b < blocks) step(b, acc0);
#pragma GCC unroll 4
  for (int r = 0; r < RM; ++r) {
#pragma GCC unroll 8
    for (int t = 0; t < RN; ++t) {
      y[t * y_stride + r] =
          hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0[r][t], acc1[r][t])));
    }
  }
}

// ---------------------------------------------------------------- K-quants
//
// A super-block's integer sum per (row, token) is built group by group (64
// elements for Q4_K / Q5_K, 32 for Q6_K), each group decoded once per row.

template <bool kFiveBit>
struct G45_K {
  static constexpr int kGroups = 4;
  struct Row {
    const uint8_t* q;  // [128] nibbles
    V8 qh;             // [32] fifth bits (Q5_K only)
    uint8_t sc[8];     // sub-block scales
    V16 mins;          // [16] mn[j] in lanes 2j, 2j + 1
    float d, dmin;
  };
  static HWY_INLINE void Begin(const uint8_t* wb, Row& row) {
    uint8_t mn[8];
    ScalesMinsK4(wb + 4, row.sc, mn);
    row.q = wb + (kFiveBit ? 48 : 16);
    row.qh = kFiveBit ? hn::LoadU(D8(), wb + 16) : hn::Zero(D8());
    alignas(32) int16_t m16[16];
    for (int j = 0; j < 8; ++j) m16[2 * j] = m16[2 * j + 1] = mn[j];
    row.mins = hn::Load(D16(), m16);
    row.d = Half(wb);
    row.dmin = Half(wb + 2);
  }
  struct Group {
    V8 lo, hi;      // [32] codes of sub-blocks 2g and 2g + 1
    V16 s_lo, s_hi;  // their scales
  };
  static HWY_INLINE Group Decode(const Row& row, int g) {
    const D8 d8;
    const V8 v = hn::LoadU(d8, row.q + 32 * g);
    Group o{LowNibbles(v), HighNibbles(v), hn::Set(D16(), row.sc[2 * g]),
            hn::Set(D16(), row.sc[2 * g + 1])};
    if (kFiveBit) {
      const V8 k16 = hn::Set(d8, 0x10);
      const auto h = hn::ShiftRightSame(hn::BitCast(DU16(), row.qh), 2 * g);
      o.lo = hn::Or(o.lo, hn::And(hn::BitCast(d8, hn::ShiftLeft<4>(h)), k16));
      o.hi = hn::Or(o.hi, hn::And(hn::BitCast(d8, hn::ShiftLeft<3>(h)), k16));
    }
    return o;
  }
  // xq: the super-block's 256 activations.
  static HWY_INLINE V32 Mac(V32 isum, const Group& w, const int8_t* xq, int g) {
    isum = DotPairs16(isum, MulPairsU8(w.lo, hn::LoadU(DS8(), xq + 64 * g)), w.s_lo);
    return DotPairs16(isum, MulPairsU8(w.hi, hn::LoadU(DS8(), xq + 64 * g + 32)),
                      w.s_hi);
  }
  // Adds the super-block to acc / acc_min exactly as X45_K::Block does.
  static HWY_INLINE void End(const Row& row, V32 isum, const int16_t* bsums,
                             float dx, VF& acc, float& acc_min) {
    acc = hn::MulAdd(hn::ConvertTo(DF(), isum), hn::Set(DF(), row.d * dx), acc);
    // sum_j mn[j] * (bsums[2j] + bsums[2j + 1]), exact in int32.
    const V32 m = MulPairs16(hn::LoadU(D16(), bsums), row.mins);
    const int msum = hn::GetLane(hn::SumOfLanes(D32(), m));
    acc_min += static_cast<float>(msum) * (row.dmin * dx);
  }
};

struct G6_K {
  static constexpr int kGroups = 8;  // 2 halves x 4 units of 32
  struct Row {
    const uint8_t* wb;
    V8 scales[2];  // [2][32] per half: 8 int16 scales in both 128-bit halves
    V16 sc16;      // [16] all scales widened, for the +32 correction
    float d;
  };
  static HWY_INLINE void Begin(const uint8_t* wb, Row& row) {
    const int8_t* sc = reinterpret_cast<const int8_t*>(wb + 192);  // [16]
    const hn::Full128<int16_t> d128;
    for (int half = 0; half < 2; ++half) {
      const auto s8 = hn::PromoteTo(d128, hn::LoadU(hn::Full64<int8_t>(), sc + 8 * half));
      row.scales[half] = hn::BitCast(D8(), hn::Combine(D16(), s8, s8));
    }
    row.sc16 = hn::PromoteTo(D16(), hn::LoadU(hn::Full128<int8_t>(), sc));
    row.wb = wb;
    row.d = Half(wb + 208);
  }
  struct Group {
    V8 q;   // [32] codes + 32 of one unit
    V16 s;  // [16] its two scales spread over the unit
  };
  // Group g = unit k = g % 4 of half g / 4 (X6_K's q1..q4).
  static HWY_INLINE Group Decode(const Row& row, int g) {
    const D8 d8;
    const int half = g / 4, k = g % 4;
    const uint8_t* ql = row.wb + 64 * half + (k & 1) * 32;  // a or c
    const V8 lowbits = hn::LoadU(d8, ql);
    const V8 h = hn::LoadU(d8, row.wb + 128 + 32 * half);
    const auto h16 = hn::BitCast(DU16(), h);
    const V8 k48 = hn::Set(d8, 0x30);
    V8 q;
    switch (k) {
      case 0: q = hn::Or(LowNibbles(lowbits), hn::And(hn::BitCast(d8, hn::ShiftLeft<4>(h16)), k48)); break;
      case 1: q = hn::Or(LowNibbles(lowbits), hn::And(hn::BitCast(d8, hn::ShiftLeft<2>(h16)), k48)); break;
      case 2: q = hn::Or(HighNibbles(lowbits), hn::And(h, k48)); break;
      default: q = hn::Or(HighNibbles(lowbits), hn::And(hn::BitCast(d8, hn::ShiftRight<2>(h16)), k48)); break;
    }
    const V16 s = hn::BitCast(
        D16(), hn::TableLookupBytes(row.scales[half], hn::Load(d8, kQ6ScaleIndex.idx[k])));
    return Group{q, s};
  }
  static HWY_INLINE V32 Mac(V32 isum, const Group& w, const int8_t* xq, int g) {
    return DotPairs16(isum, MulPairsU8(w.q, hn::LoadU(DS8(), xq + 32 * g)), w.s);
  }
  static HWY_INLINE void End(const Row& row, V32 isum, const int16_t* bsums,
                             float dx, VF& acc, float&) {
    // Remove 32 * sum_s sc[s] * bsum[s] (the codes' +32).
    const V32 corr = MulPairs16(row.sc16, hn::LoadU(D16(), bsums));
    isum = hn::Sub(isum, hn::ShiftLeft<5>(corr));
    acc = hn::MulAdd(hn::ConvertTo(DF(), isum), hn::Set(DF(), row.d * dx), acc);
  }
};

template <class G, int RM, int RN>
HWY_INLINE void Tile256(const uint8_t* w, int64_t row_bytes, int64_t type_size,
                        int64_t blocks, const QuantizedActivations* x, float* y,
                        int64_t y_stride) {
  const DF df;
  const int8_t* xq[RN];    // [RN] -> [n]
  const float* xd[RN];     // [RN] -> [n / 256]
  const int16_t* xs[RN];   // [RN] -> [n / 16]
  for (int t = 0; t < RN; ++t) {
    xq[t] = x[t].q.data();
    xd[t] = x[t].d.data();
    xs[t] = x[t].bsums.data();
  }
  // Rows256's accumulators per (row, token): even / odd super-blocks.
  VF acc0[RM][RN], acc1[RM][RN];
  float min0[RM][RN], min1[RM][RN];
#pragma GCC unroll 4
  for (int r = 0; r < RM; ++r) {
#pragma GCC unroll 8
    for (int t = 0; t < RN; ++t) {
      acc0[r][t] = acc1[r][t] = hn::Zero(df);
      min0[r][t] = min1[r][t] = 0.f;
    }
  }
  const auto step = [&](int64_t b, VF (&acc)[RM][RN], float (&mins)[RM][RN])
                        HWY_ATTR {
    typename G::Row row[RM];  // [RM] per-block scales of each row
#pragma GCC unroll 4
    for (int r = 0; r < RM; ++r) G::Begin(w + r * row_bytes + b * type_size, row[r]);
    V32 isum[RM][RN];
#pragma GCC unroll 4
    for (int r = 0; r < RM; ++r) {
#pragma GCC unroll 8
      for (int t = 0; t < RN; ++t) isum[r][t] = hn::Zero(D32());
    }
#pragma GCC unroll 8
    for (int g = 0; g < G::kGroups; ++g) {
      typename G::Group dec[RM];  // [RM] decoded once, used RN times
#pragma GCC unroll 4
      for (int r = 0; r < RM; ++r) dec[r] = G::Decode(row[r], g);
#pragma GCC unroll 8
      for (int t = 0; t < RN; ++t) {
#pragma GCC unroll 4
        for (int r = 0; r < RM; ++r) {
          isum[r][t] = G::Mac(isum[r][t], dec[r], xq[t] + 256 * b, g);
        }
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < RM; ++r) {
#pragma GCC unroll 8
      for (int t = 0; t < RN; ++t) {
        G::End(row[r], isum[r][t], xs[t] + 16 * b, xd[t][b], acc[r][t], mins[r][t]);
      }
    }
  };
  int64_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    step(b, acc0, min0);
    step(b + 1, acc1, min1);
  }
  if (b < blocks) step(b, acc0, min0);
#pragma GCC unroll 4
  for (int r = 0; r < RM; ++r) {
#pragma GCC unroll 8
    for (int t = 0; t < RN; ++t) {
      y[t * y_stride + r] =
          hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0[r][t], acc1[r][t]))) -
          (min0[r][t] + min1[r][t]);
    }
  }
}

// Tile shapes: RM rows x RN tokens. The f32 accumulators take 2 * RM * RN
// vectors; AVX3_DL has 32 vector registers, AVX2 16 (it spills some).
constexpr int kTileRows = 2;
constexpr int kTileTokens = 4;

// Rows [r0, r1) x tokens [t0, t1): full tiles, then the edges with one row
// and/or one token at a time.
template <class G, bool kK>
HWY_NOINLINE void GemmRows(const uint8_t* w, int64_t row_bytes, int64_t type_size,
                           const QuantizedActivations* x, int64_t t0, int64_t t1,
                           float* y, int64_t y_stride, int64_t r0, int64_t r1) {
  const int64_t blocks = x[t0].n / (kK ? 256 : 32);
  constexpr int RM = kTileRows, RN = kTileTokens;
  const auto tile = [&](auto rm, auto rn, int64_t r, int64_t t) HWY_ATTR {
    const uint8_t* wr = w + r * row_bytes;
    float* yo = y + t * y_stride + r;
    if constexpr (kK) {
      Tile256<G, decltype(rm)::value, decltype(rn)::value>(
          wr, row_bytes, type_size, blocks, x + t, yo, y_stride);
    } else {
      Tile32<G, decltype(rm)::value, decltype(rn)::value>(
          wr, row_bytes, type_size, blocks, x + t, yo, y_stride);
    }
  };
  using M = std::integral_constant<int, RM>;
  using N = std::integral_constant<int, RN>;
  using One = std::integral_constant<int, 1>;
  int64_t r = r0;
  for (; r + RM <= r1; r += RM) {
    int64_t t = t0;
    for (; t + RN <= t1; t += RN) tile(M(), N(), r, t);
    for (; t < t1; ++t) tile(M(), One(), r, t);
  }
  for (; r < r1; ++r) {
    int64_t t = t0;
    for (; t + RN <= t1; t += RN) tile(One(), N(), r, t);
    for (; t < t1; ++t) tile(One(), One(), r, t);
  }
}

}  // namespace x86
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#endif  // SKV_QUANT_DOT_X86

#endif  // SKV_SIMD_QUANT_GEMM_X86_INL_H_ toggle
