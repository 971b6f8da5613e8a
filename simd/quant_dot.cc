// Highway kernels for the integer dot path (quant_dot.h): weight blocks are
// unpacked to int16 lanes, multiplied with the widened int8 activations by
// ReorderWidenMulAccumulate (pmaddwd on x86) into int32 lanes; each block's
// lanes are summed into its exact integer total, which enters the row's f32
// accumulator through one fused multiply-add (quant_dot.h, "One
// arithmetic").
//
// int16 vectors are capped at 16 lanes so that a vector never straddles the
// 16-byte runs the block formats pack their codes in (Q4_0's low/high nibble
// halves, Q6_K's 16-element scale groups).
//
// On x86 with AVX2 or better, the kernels in quant_dot_x86-inl.h replace the
// int16 ones: the weights stay bytes and are multiplied with the int8
// activations by pmaddubsw (or vpdpbusd on AVX3_DL, whose runtime check
// requires AVX512-VNNI), as llama.cpp's CPU backend does; the int16 kernels
// remain for SSSE3/SSE4 and scalar targets.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL  // compile the VNNI target (Highway 1.0.3 opt-in)
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/quant_dot.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cstring>

#include "base/check.h"
#include "base/parallel.h"
#include "simd/activation_round.h"
#include "simd/quant.h"
#include "simd/quant_dot.h"
#include "simd/quant_internal.h"

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DI16 = hn::CappedTag<int16_t, 16>;
using DI32 = hn::Repartition<int32_t, DI16>;
using DF = hn::Rebind<float, DI32>;
using DU16 = hn::RebindToUnsigned<DI16>;
using DU8 = hn::Rebind<uint8_t, DI16>;
using DI8 = hn::Rebind<int8_t, DI16>;
using VI16 = hn::Vec<DI16>;
using VI32 = hn::Vec<DI32>;
using VF = hn::Vec<DF>;

using quant_internal::LoadF16;

}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#include "simd/quant_dot_x86-inl.h"

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {

// Activations, widened to int16 once per call (QuantizedActivations::q16),
// so the inner loops spend no shuffles on them.
template <class D = DI16>
HWY_INLINE hn::Vec<D> LoadX(const int16_t* p) {
  return hn::LoadU(D(), p);
}

// Packed weight bytes -> int16 lanes (zero-extended).
HWY_INLINE VI16 LoadBytes(const uint8_t* p) {
  return hn::BitCast(DI16(), hn::PromoteTo(DU16(), hn::LoadU(DU8(), p)));
}

// Lanes whose `bit` is set in v become 16 (the fifth bit of a 5-bit code).
HWY_INLINE VI16 Bit16(VI16 v, VI16 bit) {
  const DI16 d;
  return hn::And(hn::VecFromMask(d, hn::TestBit(v, bit)), hn::Set(d, 16));
}

// Integer sum of products of one block, in int32 lanes. sum1 is only used by
// targets whose widening multiply splits its results (see Highway's
// ReorderWidenMulAccumulate); Finish folds it in.
template <class D16 = DI16>
struct IntSum {
  using D32 = hn::Repartition<int32_t, D16>;
  HWY_INLINE IntSum() : s0(hn::Zero(D32())), s1(hn::Zero(D32())) {}
  hn::Vec<D32> s0;
  hn::Vec<D32> s1;
  HWY_INLINE void Mac(hn::Vec<D16> w, hn::Vec<D16> x) {
    s0 = hn::ReorderWidenMulAccumulate(D32(), w, x, s0, s1);
  }
  // The block's exact integer total.
  HWY_INLINE int32_t Total() const {
    return hn::GetLane(hn::SumOfLanes(D32(), hn::RearrangeToOddPlusEven(s0, s1)));
  }
};

// Per-format block dots: return acc plus the block's terms.
// Q8_0 blocks are 32 contiguous int8: up to a whole block per vector.
using DW16 = hn::CappedTag<int16_t, 32>;
struct Q8_0 {
  static constexpr int kBlock = 32;
  static HWY_INLINE float Block(const uint8_t* wb, const int16_t* xq, float dx,
                                const int16_t*, float acc) {
    const int8_t* qs = reinterpret_cast<const int8_t*>(wb + 2);  // [32]
    const DW16 d;
    const size_t N = hn::Lanes(d);
    IntSum<DW16> s;
    for (size_t j = 0; j < 32; j += N) {
      s.Mac(hn::PromoteTo(d, hn::LoadU(hn::Rebind<int8_t, DW16>(), qs + j)),
            LoadX<DW16>(xq + j));
    }
    return FusedBlockTerm(s.Total(), LoadF16(wb) * dx, acc);
  }
};

struct Q4_0 {
  static constexpr int kBlock = 32;
  static HWY_INLINE float Block(const uint8_t* wb, const int16_t* xq, float dx,
                                const int16_t*, float acc) {
    const DI16 d;
    const uint8_t* qs = wb + 2;  // [16] element j low nibble, j+16 high
    const size_t N = hn::Lanes(d);
    const VI16 k8 = hn::Set(d, 8);
    IntSum<> s;
    for (size_t j = 0; j < 16; j += N) {
      const VI16 v = LoadBytes(qs + j);
      s.Mac(hn::Sub(hn::And(v, hn::Set(d, 15)), k8), LoadX(xq + j));
      s.Mac(hn::Sub(hn::ShiftRight<4>(v), k8), LoadX(xq + 16 + j));
    }
    return FusedBlockTerm(s.Total(), LoadF16(wb) * dx, acc);
  }
};

// Lane i holds 1 << i: selects bit i of a broadcast 16-bit mask.
alignas(64) static constexpr uint16_t kLaneBit[16] = {
    1,     2,     4,     8,     16,    32,    64,     128,
    256,   512,   1024,  2048,  4096,  8192,  16384,  32768};

struct Q5_0 {
  static constexpr int kBlock = 32;
  static HWY_INLINE float Block(const uint8_t* wb, const int16_t* xq, float dx,
                                const int16_t*, float acc) {
    const DI16 d;
    uint32_t qh;  // bit j is the fifth bit of element j
    std::memcpy(&qh, wb + 2, 4);
    const uint8_t* qs = wb + 6;  // [16]
    const size_t N = hn::Lanes(d);
    const VI16 bits = hn::BitCast(d, hn::Load(DU16(), kLaneBit));
    const VI16 k16 = hn::Set(d, 16);
    IntSum<> s;
    for (size_t j = 0; j < 16; j += N) {
      const VI16 v = LoadBytes(qs + j);
      const VI16 h_lo = hn::Set(d, static_cast<int16_t>((qh >> j) & 0xFFFF));
      const VI16 h_hi = hn::Set(d, static_cast<int16_t>((qh >> (16 + j)) & 0xFFFF));
      const VI16 lo = hn::Add(hn::And(v, hn::Set(d, 15)), Bit16(h_lo, bits));
      const VI16 hi = hn::Add(hn::ShiftRight<4>(v), Bit16(h_hi, bits));
      s.Mac(hn::Sub(lo, k16), LoadX(xq + j));
      s.Mac(hn::Sub(hi, k16), LoadX(xq + 16 + j));
    }
    return FusedBlockTerm(s.Total(), LoadF16(wb) * dx, acc);
  }
};

// Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins. The scales
// multiply the codes in int16 (at most 31 * 63), the mins use the
// activations' 16-element sums.
template <bool kFiveBit>
struct Q45_K {
  static constexpr int kBlock = 256;
  static HWY_INLINE float Block(const uint8_t* wb, const int16_t* xq, float dx,
                                const int16_t* bsums, float acc) {
    const DI16 d;
    uint8_t sc[8], mn[8];
    quant_internal::UnpackScaleMinK4(wb + 4, sc, mn);
    const uint8_t* qh = wb + 16;                  // [32] Q5_K only
    const uint8_t* q = wb + (kFiveBit ? 48 : 16);  // [128]
    const size_t N = hn::Lanes(d);
    const VI16 k15 = hn::Set(d, 15);
    IntSum<> s;
    for (int g = 0; g < 4; ++g) {
      const VI16 s_lo = hn::Set(d, sc[2 * g]);
      const VI16 s_hi = hn::Set(d, sc[2 * g + 1]);
      const VI16 b_lo = hn::Set(d, static_cast<int16_t>(1 << (2 * g)));
      const VI16 b_hi = hn::Set(d, static_cast<int16_t>(2 << (2 * g)));
      for (size_t j = 0; j < 32; j += N) {
        const VI16 v = LoadBytes(q + 32 * g + j);
        VI16 lo = hn::And(v, k15);
        VI16 hi = hn::ShiftRight<4>(v);
        if (kFiveBit) {
          const VI16 h = LoadBytes(qh + j);
          lo = hn::Add(lo, Bit16(h, b_lo));
          hi = hn::Add(hi, Bit16(h, b_hi));
        }
        s.Mac(hn::Mul(lo, s_lo), LoadX(xq + 64 * g + j));
        s.Mac(hn::Mul(hi, s_hi), LoadX(xq + 64 * g + 32 + j));
      }
    }
    int msum = 0;
    for (int j = 0; j < 8; ++j) msum += mn[j] * (bsums[2 * j] + bsums[2 * j + 1]);
    acc = FusedBlockTerm(s.Total(), LoadF16(wb) * dx, acc);
    return FusedBlockTerm(-msum, LoadF16(wb + 2) * dx, acc);
  }
};

// Q6_K: 16 sub-blocks of 16 with signed 8-bit scales; codes minus 32 times
// the scale fit int16 (at most 32 * 128).
struct Q6_K {
  static constexpr int kBlock = 256;
  static HWY_INLINE float Block(const uint8_t* wb, const int16_t* xq, float dx,
                                const int16_t*, float acc) {
    const DI16 d;
    const uint8_t* ql = wb;        // [128] low four bits
    const uint8_t* qh = wb + 128;  // [64] high two bits, four per byte
    const int8_t* sc = reinterpret_cast<const int8_t*>(wb + 192);  // [16]
    const size_t N = hn::Lanes(d);
    const VI16 k15 = hn::Set(d, 15);
    const VI16 k48 = hn::Set(d, 48);  // the high bits' place after << 4
    const VI16 k32 = hn::Set(d, 32);
    IntSum<> s;
    for (int half = 0; half < 2; ++half) {
      for (size_t l = 0; l < 32; l += N) {
        const VI16 a = LoadBytes(ql + l);
        const VI16 b = LoadBytes(ql + 32 + l);
        const VI16 h = LoadBytes(qh + l);
        const VI16 q1 = hn::Or(hn::And(a, k15), hn::And(hn::ShiftLeft<4>(h), k48));
        const VI16 q2 = hn::Or(hn::And(b, k15), hn::And(hn::ShiftLeft<2>(h), k48));
        const VI16 q3 = hn::Or(hn::ShiftRight<4>(a), hn::And(h, k48));
        const VI16 q4 = hn::Or(hn::ShiftRight<4>(b), hn::And(hn::ShiftRight<2>(h), k48));
        const int is = static_cast<int>(l / 16);
        s.Mac(hn::Mul(hn::Sub(q1, k32), hn::Set(d, sc[is])), LoadX(xq + l));
        s.Mac(hn::Mul(hn::Sub(q2, k32), hn::Set(d, sc[is + 2])), LoadX(xq + 32 + l));
        s.Mac(hn::Mul(hn::Sub(q3, k32), hn::Set(d, sc[is + 4])), LoadX(xq + 64 + l));
        s.Mac(hn::Mul(hn::Sub(q4, k32), hn::Set(d, sc[is + 6])), LoadX(xq + 96 + l));
      }
      ql += 64;
      qh += 32;
      sc += 8;
      xq += 128;
    }
    return FusedBlockTerm(s.Total(), LoadF16(wb + 208) * dx, acc);
  }
};

template <class Fmt>
HWY_NOINLINE void RowsT(const uint8_t* w, int64_t row_bytes, int64_t type_size,
                        const QuantizedActivations& x, float* y, int64_t r0,
                        int64_t r1) {
  const int64_t blocks = x.n / Fmt::kBlock;
  const int16_t* xq = x.q16.data();
  const float* xd = x.d.data();
  const int16_t* bsums = x.bsums.data();
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w + r * row_bytes;
    float acc = 0.f;
    for (int64_t b = 0; b < blocks; ++b) {
      acc = Fmt::Block(row + b * type_size, xq + b * Fmt::kBlock, xd[b],
                       bsums + b * (Fmt::kBlock / 16), acc);
    }
    y[r] = acc;
  }
}

void MatVecQ8RowsImpl(GgmlType type, const void* w, int64_t row_bytes,
                      const QuantizedActivations* x, float* y, int64_t r0,
                      int64_t r1) {
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const int64_t ts = GetGgmlType(type).type_size;
#if SKV_QUANT_DOT_X86
  switch (type) {
    case GgmlType::kQ8_0: return x86::Rows32<x86::X8_0>(wb, row_bytes, ts, *x, y, r0, r1);
    case GgmlType::kQ4_0: return x86::Rows32<x86::X4_0>(wb, row_bytes, ts, *x, y, r0, r1);
    case GgmlType::kQ5_0: return x86::Rows32<x86::X5_0>(wb, row_bytes, ts, *x, y, r0, r1);
    case GgmlType::kQ4_K: return x86::Rows256<x86::X45_K<false>>(wb, row_bytes, ts, *x, y, r0, r1);
    case GgmlType::kQ5_K: return x86::Rows256<x86::X45_K<true>>(wb, row_bytes, ts, *x, y, r0, r1);
    case GgmlType::kQ6_K: return x86::Rows256<x86::X6_K>(wb, row_bytes, ts, *x, y, r0, r1);
    default: SKV_CHECK(false);
  }
#endif
  switch (type) {
    case GgmlType::kQ8_0: return RowsT<Q8_0>(wb, row_bytes, ts, *x, y, r0, r1);
    case GgmlType::kQ4_0: return RowsT<Q4_0>(wb, row_bytes, ts, *x, y, r0, r1);
    case GgmlType::kQ5_0: return RowsT<Q5_0>(wb, row_bytes, ts, *x, y, r0, r1);
    case GgmlType::kQ4_K: return RowsT<Q45_K<false>>(wb, row_bytes, ts, *x, y, r0, r1);
    case GgmlType::kQ5_K: return RowsT<Q45_K<true>>(wb, row_bytes, ts, *x, y, r0, r1);
    case GgmlType::kQ6_K: return RowsT<Q6_K>(wb, row_bytes, ts, *x, y, r0, r1);
    default: SKV_CHECK(false);
  }
}

const char* IntegerDotTargetImpl() { return hwy::TargetName(HWY_TARGET); }

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace skv {

HWY_EXPORT(MatVecQ8RowsImpl);
HWY_EXPORT(IntegerDotTargetImpl);

namespace {

void CheckArgs(GgmlType weight_type, const QuantizedActivations& x) {
  SKV_CHECK(HasIntegerDot(weight_type));
  SKV_CHECK(x.type == ActivationType(weight_type));
  SKV_CHECK(x.n % GetGgmlType(weight_type).block_size == 0);
}

}  // namespace

float DotQ8(GgmlType weight_type, const void* row,
            const QuantizedActivations& x) {
  CheckArgs(weight_type, x);
  float y = 0.f;
  HWY_DYNAMIC_DISPATCH(MatVecQ8RowsImpl)(weight_type, row, 0, &x, &y, 0, 1);
  return y;
}

void MatVecQ8(GgmlType weight_type, const void* w, int64_t row_bytes,
              const QuantizedActivations& x, float* y, int64_t rows) {
  CheckArgs(weight_type, x);
  SKV_CHECK(row_bytes >= GgmlRowBytes(weight_type, x.n) && rows >= 0);
  if (rows == 0) return;
  // Resolve the dispatch target before the threads start, so they never race
  // on hwy's lazy initialisation.
  (void)IntegerDotTarget();
  // Ranges of a few hundred KB of weights amortise the scheduling and the
  // row-group kernels' start (they prefetch four groups of 8 rows ahead
  // within a range); whole groups of 8 rows.
  const int64_t grain =
      std::max<int64_t>(8, (256 << 10) / std::max<int64_t>(row_bytes, 1)) / 8 * 8;
  ParallelRanges(rows, grain, [&](int64_t r0, int64_t r1) {
    HWY_DYNAMIC_DISPATCH(MatVecQ8RowsImpl)(weight_type, w, row_bytes, &x, y,
                                           r0, r1);
  });
}

void MatVecQ8Rows(GgmlType weight_type, const void* w, int64_t row_bytes,
                  const QuantizedActivations& x, float* y, int64_t r0,
                  int64_t r1) {
  CheckArgs(weight_type, x);
  HWY_DYNAMIC_DISPATCH(MatVecQ8RowsImpl)(weight_type, w, row_bytes, &x, y, r0, r1);
}

const char* IntegerDotTarget() {
  return HWY_DYNAMIC_DISPATCH(IntegerDotTargetImpl)();
}

}  // namespace skv
#endif  // HWY_ONCE
