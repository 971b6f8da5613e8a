// Highway kernels for GGML rows: dequantisation (to f32, or to bf16 for the
// prefill GEMM), dot with an f32 vector, the decode GEMV (MatVec) and 16-bit
// float conversions.
//
// Every block format is described once by a `Decode` function that turns a
// block into f32 vectors and hands them to a sink; the dot sink multiplies
// them into f32 accumulators, the store sink writes them out. The weights are
// dequantised with the same float operations (and rounding) as the scalar
// reference, so DequantizeRow is bit-exact and the dots differ from the
// reference only by the order of the f32 sums.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/quant.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "simd/fixed_math-inl.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "base/parallel.h"
#include "simd/quant.h"
#include "simd/quant_internal.h"

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// At most 16 f32 lanes: the block decoders split 16- and 32-byte runs of
// codes into whole vectors, which needs Lanes() to divide 16.
using DF = hn::CappedTag<float, 16>;
using DU32 = hn::RebindToUnsigned<DF>;
using DI32 = hn::RebindToSigned<DF>;
using DU8 = hn::Rebind<uint8_t, DF>;
using DI8 = hn::Rebind<int8_t, DF>;
using DU16 = hn::Rebind<uint16_t, DF>;
using VF = hn::Vec<DF>;

using quant_internal::LoadF16;

// ---------------------------------------------------------------- 16-bit floats

// IEEE half bits (already widened to u32 lanes) -> f32, exact, including
// subnormals, inf and nan.
HWY_INLINE VF HalfBitsToF32(hn::Vec<DU32> bits) {
  const DF df;
  const DU32 du;
  const DI32 di;
  const auto sign = hn::ShiftLeft<16>(hn::And(bits, hn::Set(du, 0x8000)));
  const auto exp = hn::And(hn::ShiftRight<10>(bits), hn::Set(du, 0x1F));
  const auto mant = hn::And(bits, hn::Set(du, 0x3FF));
  const auto normal = hn::Or(hn::ShiftLeft<23>(hn::Add(exp, hn::Set(du, 112))),
                             hn::ShiftLeft<13>(mant));
  const auto inf_nan =
      hn::Or(hn::Set(du, 0x7F800000u), hn::ShiftLeft<13>(mant));
  // Subnormal halves are mant * 2^-24, exactly representable in f32.
  const auto sub = hn::BitCast(
      du, hn::Mul(hn::ConvertTo(df, hn::BitCast(di, mant)),
                  hn::Set(df, 1.0f / 16777216.0f)));
  auto r = hn::IfThenElse(hn::Eq(exp, hn::Zero(du)), sub, normal);
  r = hn::IfThenElse(hn::Eq(exp, hn::Set(du, 31)), inf_nan, r);
  return hn::BitCast(df, hn::Or(r, sign));
}

HWY_INLINE VF LoadHalf(const uint16_t* p) {
  const DU16 du16;
#if HWY_TARGET < HWY_SSE4  // AVX2 and better have F16C (vcvtph2ps): exact
  const hn::Rebind<hwy::float16_t, DF> dh;
  return hn::PromoteTo(DF(), hn::BitCast(dh, hn::LoadU(du16, p)));
#else  // Highway's emulation maps inf/nan to finite values; use ours
  return HalfBitsToF32(hn::PromoteTo(DU32(), hn::LoadU(du16, p)));
#endif
}

HWY_INLINE VF LoadBF16(const uint16_t* p) {
  const DU16 du16;
  return hn::BitCast(DF(),
                     hn::ShiftLeft<16>(hn::PromoteTo(DU32(), hn::LoadU(du16, p))));
}

// f32 -> IEEE half bits with round-to-nearest-even (same as F32ToF16Bits).
HWY_INLINE hn::Vec<DU16> F32ToHalfBits(VF v) {
  const DF df;
  const DU32 du;
  const DI32 di;
  const DU16 du16;
#if HWY_TARGET < HWY_SSE4  // vcvtps2ph with round-to-nearest-even
  const hn::Rebind<hwy::float16_t, DF> dh;
  return hn::BitCast(du16, hn::DemoteTo(dh, v));
#else  // Highway's emulation truncates; round properly
  const auto x = hn::BitCast(du, v);
  const auto sign = hn::And(hn::ShiftRight<16>(x), hn::Set(du, 0x8000));
  const auto ax = hn::And(x, hn::Set(du, 0x7FFFFFFFu));
  const auto axi = hn::BitCast(di, ax);  // non-negative: signed compares work
  const auto nan = hn::Or(hn::Set(du, 0x7E00),
                          hn::And(hn::ShiftRight<13>(ax), hn::Set(du, 0x3FF)));
  const auto sub = hn::Sub(
      hn::BitCast(du, hn::Add(hn::BitCast(df, ax), hn::Set(df, 0.5f))),
      hn::Set(du, 0x3F000000u));
  const auto odd = hn::And(hn::ShiftRight<13>(ax), hn::Set(du, 1));
  const auto normal = hn::ShiftRight<13>(
      hn::Add(hn::Add(ax, hn::Set(du, 0xC8000FFFu)), odd));
  auto r = hn::IfThenElse(
      hn::RebindMask(du, hn::Lt(axi, hn::Set(di, 0x38800000))), sub, normal);
  r = hn::IfThenElse(hn::RebindMask(du, hn::Gt(axi, hn::Set(di, 0x477FEFFF))),
                     hn::Set(du, 0x7C00), r);
  r = hn::IfThenElse(hn::RebindMask(du, hn::Gt(axi, hn::Set(di, 0x7F800000))),
                     nan, r);
  return hn::DemoteTo(du16, hn::BitCast(di, hn::Or(r, sign)));
#endif
}

// f32 -> bfloat16 bits, round-to-nearest-even, nan kept quiet (as ggml).
HWY_INLINE hn::Vec<DU16> F32ToBF16Bits(VF v) {
  const DU32 du;
  const DI32 di;
  const auto x = hn::BitCast(du, v);
  const auto is_nan = hn::RebindMask(
      du, hn::Gt(hn::BitCast(di, hn::And(x, hn::Set(du, 0x7FFFFFFFu))),
                 hn::Set(di, 0x7F800000)));
  const auto odd = hn::And(hn::ShiftRight<16>(x), hn::Set(du, 1));
  const auto rne =
      hn::ShiftRight<16>(hn::Add(x, hn::Add(hn::Set(du, 0x7FFF), odd)));
  const auto nan = hn::Or(hn::ShiftRight<16>(x), hn::Set(du, 0x40));
  return hn::DemoteTo(DU16(), hn::BitCast(di, hn::IfThenElse(is_nan, nan, rne)));
}

void F16ToF32Impl(const uint16_t* src, float* dst, int64_t n) {
  const DF df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(LoadHalf(src + i), df, dst + i);
  for (; i < n; ++i) dst[i] = F16BitsToF32(src[i]);
}

void F32ToF16Impl(const float* src, uint16_t* dst, int64_t n) {
  const DF df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(F32ToHalfBits(hn::LoadU(df, src + i)), DU16(), dst + i);
  }
  for (; i < n; ++i) dst[i] = F32ToF16Bits(src[i]);
}

void BF16ToF32Impl(const uint16_t* src, float* dst, int64_t n) {
  const DF df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(LoadBF16(src + i), df, dst + i);
  for (; i < n; ++i) dst[i] = quant_internal::BF16BitsToF32(src[i]);
}

void F32ToBF16Impl(const float* src, uint16_t* dst, int64_t n) {
  const DF df;
  const int64_t N = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(F32ToBF16Bits(hn::LoadU(df, src + i)), DU16(), dst + i);
  }
  for (; i < n; ++i) dst[i] = quant_internal::F32ToBF16Bits(src[i]);
}

// ---------------------------------------------------------------- plain rows

// Dot of a plain row (f32, f16, bf16) with x; `load` widens N elements.
// 64 virtual lanes (fixed_math-inl.h: enough independent FMA chains on
// every target, the same bits on every target); the last n % 64 products
// are added in order after the lanes' sum.
template <typename T, class Load>
HWY_INLINE float DotPlain(const T* w, const float* x, int64_t n, Load load,
                          float (*scalar)(T)) {
  const DF df;
  constexpr int64_t kW = 64, N = hn::MaxLanes(DF());
  fixed::FixedAcc<kW, DF> acc;
  int64_t i = 0;
  for (; i + kW <= n; i += kW) {
    // Decode streams each weight once: prefetch 2 KiB ahead (a row's end
    // runs into the next row) so one core keeps enough lines in flight (one
    // core's hardware prefetchers alone reached 6.3 GB/s on a DRAM-sized
    // Q8_0 GEMV, 9.5-9.8 with a 2-4 KiB software prefetch).
    const char* ahead = reinterpret_cast<const char*>(w + i) + 2048;
    for (size_t o = 0; o < kW * sizeof(T); o += 64) hwy::Prefetch(ahead + o);
    for (int64_t j = 0; j < kW / N; ++j) {
      acc.MulAdd(j, load(w + i + j * N), hn::LoadU(df, x + i + j * N));
    }
  }
  float sum = acc.FoldSum();
  for (; i < n; ++i) sum = std::fma(scalar(w[i]), x[i], sum);
  return sum;
}

float F32Identity(float v) { return v; }

HWY_INLINE float DotF32(const float* w, const float* x, int64_t n) {
  return DotPlain(w, x, n, [](const float* p) { return hn::LoadU(DF(), p); },
                  &F32Identity);
}
HWY_INLINE float DotF16(const uint16_t* w, const float* x, int64_t n) {
  return DotPlain(w, x, n, [](const uint16_t* p) { return LoadHalf(p); },
                  &F16BitsToF32);
}
HWY_INLINE float DotBF16(const uint16_t* w, const float* x, int64_t n) {
  return DotPlain(w, x, n, [](const uint16_t* p) { return LoadBF16(p); },
                  &quant_internal::BF16BitsToF32);
}

// ---------------------------------------------------------------- sinks

// Multiplies decoded weights into 32 virtual f32 lanes (fixed_math-inl.h):
// element e of a block goes to lane e % 32, so every target adds the same
// products in the same order and the sum has the same bits everywhere.
struct DotSink {
  static constexpr int64_t kW = 32;
  const float* x;  // [block_size] the block's slice of the input vector
  fixed::FixedAcc<kW, DF> acc;
  explicit DotSink(const float* x_in) : x(x_in) {}
  template <int K>
  HWY_INLINE void Put(int64_t off, VF w) {
    constexpr int64_t N = hn::MaxLanes(DF());
    acc.MulAdd(static_cast<size_t>((off % kW) / N), w, hn::LoadU(DF(), x + off));
  }
  HWY_INLINE void Advance(int64_t n) { x += n; }
  HWY_INLINE float Sum() { return acc.FoldSum(); }
};

struct StoreSink {
  float* y;  // [block_size] the block's slice of the output row
  template <int K>
  HWY_INLINE void Put(int64_t off, VF w) {
    hn::StoreU(w, DF(), y + off);
  }
  HWY_INLINE void Advance(int64_t n) { y += n; }
};

// Rounds each decoded vector to bfloat16 on the way out, so the bf16 GEMM's
// weight panel is written once, without an f32 row in between.
struct StoreBF16Sink {
  uint16_t* y;  // [block_size] the block's slice of the output row (bf16 bits)
  template <int K>
  HWY_INLINE void Put(int64_t off, VF w) {
    hn::StoreU(F32ToBF16Bits(w), DU16(), y + off);
  }
  HWY_INLINE void Advance(int64_t n) { y += n; }
};

// ---------------------------------------------------------------- block formats
//
// Each format: kBlock elements in kBytes bytes, and Decode(block, sink), which
// emits the dequantised block as f32 vectors at element offsets. Chunks of N
// codes are widened u8 -> u32 (N <= 16 and N divides 16, so no chunk crosses
// a sub-block boundary).

// Bit i set in lane i (Q5_0 / Q5_1 keep element i's fifth bit in bit i of qh).
alignas(64) constexpr uint32_t kLaneBit[32] = {
    1u << 0,  1u << 1,  1u << 2,  1u << 3,  1u << 4,  1u << 5,  1u << 6,
    1u << 7,  1u << 8,  1u << 9,  1u << 10, 1u << 11, 1u << 12, 1u << 13,
    1u << 14, 1u << 15, 1u << 16, 1u << 17, 1u << 18, 1u << 19, 1u << 20,
    1u << 21, 1u << 22, 1u << 23, 1u << 24, 1u << 25, 1u << 26, 1u << 27,
    1u << 28, 1u << 29, 1u << 30, 1u << 31};

HWY_INLINE hn::Vec<DU32> LoadCodes(const uint8_t* p) {
  return hn::PromoteTo(DU32(), hn::LoadU(DU8(), p));
}
HWY_INLINE VF ToFloat(hn::Vec<DU32> v) {
  return hn::ConvertTo(DF(), hn::BitCast(DI32(), v));
}

// Q4_0 / Q4_1: d (and m) then 16 bytes; element j is the low nibble of byte
// j, element j + 16 the high nibble. Q4_0: (q - 8) * d; Q4_1: q * d + m.
template <bool kHasMin>
struct FmtQ4 {
  static constexpr int64_t kBlock = 32;
  static constexpr int64_t kBytes = kHasMin ? 20 : 18;
  template <class Sink>
  static HWY_INLINE void Decode(const uint8_t* b, Sink& sink) {
    const DF df;
    const DU32 du;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    const VF d = hn::Set(df, LoadF16(b));
    const VF m = hn::Set(df, kHasMin ? LoadF16(b + 2) : 0.0f);
    const uint8_t* qs = b + (kHasMin ? 4 : 2);
    const auto k15 = hn::Set(du, 0xF);
    const auto off = hn::Set(du, kHasMin ? 0 : 8);
    for (int64_t j = 0; j < 16; j += N) {
      const auto v = LoadCodes(qs + j);
      const VF lo = ToFloat(hn::Sub(hn::And(v, k15), off));
      const VF hi = ToFloat(hn::Sub(hn::ShiftRight<4>(v), off));
      if (kHasMin) {
        sink.template Put<0>(j, hn::Add(hn::Mul(lo, d), m));
        sink.template Put<1>(j + 16, hn::Add(hn::Mul(hi, d), m));
      } else {
        sink.template Put<0>(j, hn::Mul(lo, d));
        sink.template Put<1>(j + 16, hn::Mul(hi, d));
      }
    }
  }
};
using FmtQ4_0 = FmtQ4<false>;
using FmtQ4_1 = FmtQ4<true>;

// Q5_0 / Q5_1: like Q4 plus qh (u32): bit j is the fifth bit of element j.
template <bool kHasMin>
struct FmtQ5 {
  static constexpr int64_t kBlock = 32;
  static constexpr int64_t kBytes = kHasMin ? 24 : 22;
  template <class Sink>
  static HWY_INLINE void Decode(const uint8_t* b, Sink& sink) {
    const DF df;
    const DU32 du;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    const VF d = hn::Set(df, LoadF16(b));
    const VF m = hn::Set(df, kHasMin ? LoadF16(b + 2) : 0.0f);
    uint32_t qh;
    std::memcpy(&qh, b + (kHasMin ? 4 : 2), 4);
    const uint8_t* qs = b + (kHasMin ? 8 : 6);
    const auto qhv = hn::Set(du, qh);
    const auto k15 = hn::Set(du, 0xF);
    const auto k16 = hn::Set(du, 16);
    const auto off = hn::Set(du, kHasMin ? 0 : 16);
    for (int64_t j = 0; j < 16; j += N) {
      const auto v = LoadCodes(qs + j);
      const auto h0 = hn::IfThenElseZero(
          hn::TestBit(qhv, hn::LoadU(du, kLaneBit + j)), k16);
      const auto h1 = hn::IfThenElseZero(
          hn::TestBit(qhv, hn::LoadU(du, kLaneBit + 16 + j)), k16);
      const VF lo = ToFloat(hn::Sub(hn::Or(hn::And(v, k15), h0), off));
      const VF hi = ToFloat(hn::Sub(hn::Or(hn::ShiftRight<4>(v), h1), off));
      if (kHasMin) {
        sink.template Put<0>(j, hn::Add(hn::Mul(lo, d), m));
        sink.template Put<1>(j + 16, hn::Add(hn::Mul(hi, d), m));
      } else {
        sink.template Put<0>(j, hn::Mul(lo, d));
        sink.template Put<1>(j + 16, hn::Mul(hi, d));
      }
    }
  }
};
using FmtQ5_0 = FmtQ5<false>;
using FmtQ5_1 = FmtQ5<true>;

// Q8_0: d then 32 int8; q * d.
struct FmtQ8_0 {
  static constexpr int64_t kBlock = 32;
  static constexpr int64_t kBytes = 34;
  template <class Sink>
  static HWY_INLINE void Decode(const uint8_t* b, Sink& sink) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    const VF d = hn::Set(df, LoadF16(b));
    const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
    for (int64_t j = 0; j < 32; j += 2 * N) {
      const auto v0 = hn::PromoteTo(DI32(), hn::LoadU(DI8(), qs + j));
      const auto v1 = hn::PromoteTo(DI32(), hn::LoadU(DI8(), qs + j + N));
      sink.template Put<0>(j, hn::Mul(hn::ConvertTo(df, v0), d));
      sink.template Put<1>(j + N, hn::Mul(hn::ConvertTo(df, v1), d));
    }
  }
};

// Q4_K: d, dmin, 12 bytes of 6-bit scales/mins, 128 bytes of nibbles. Group g
// (64 elements) reads bytes 32g..32g+31: low nibbles use (sc, m)[2g], high
// nibbles (sc, m)[2g+1]; w = d*sc * q - dmin*m.
// Q5_K adds qh[32]: bits 2g and 2g+1 of qh[l] are the fifth bits.
template <bool kHigh>
struct FmtQK {
  static constexpr int64_t kBlock = 256;
  static constexpr int64_t kBytes = kHigh ? 176 : 144;
  template <class Sink>
  static HWY_INLINE void Decode(const uint8_t* b, Sink& sink) {
    const DF df;
    const DU32 du;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    const float d = LoadF16(b);
    const float dmin = LoadF16(b + 2);
    uint8_t sc[8], mn[8];
    quant_internal::UnpackScaleMinK4(b + 4, sc, mn);
    const uint8_t* qh = b + 16;
    const uint8_t* q = b + (kHigh ? 48 : 16);
    const auto k15 = hn::Set(du, 0xF);
    const auto k1 = hn::Set(du, 1);
    for (int g = 0; g < 4; ++g) {
      const VF d1 = hn::Set(df, d * static_cast<float>(sc[2 * g]));
      const VF m1 = hn::Set(df, dmin * static_cast<float>(mn[2 * g]));
      const VF d2 = hn::Set(df, d * static_cast<float>(sc[2 * g + 1]));
      const VF m2 = hn::Set(df, dmin * static_cast<float>(mn[2 * g + 1]));
      for (int64_t l = 0; l < 32; l += N) {
        const auto v = LoadCodes(q + 32 * g + l);
        auto lo = hn::And(v, k15);
        auto hi = hn::ShiftRight<4>(v);
        if (kHigh) {
          const auto h = LoadCodes(qh + l);
          lo = hn::Or(lo, hn::ShiftLeft<4>(
                              hn::And(hn::ShiftRightSame(h, 2 * g), k1)));
          hi = hn::Or(hi, hn::ShiftLeft<4>(
                              hn::And(hn::ShiftRightSame(h, 2 * g + 1), k1)));
        }
        sink.template Put<0>(64 * g + l, hn::Sub(hn::Mul(d1, ToFloat(lo)), m1));
        sink.template Put<1>(64 * g + 32 + l,
                             hn::Sub(hn::Mul(d2, ToFloat(hi)), m2));
      }
    }
  }
};
using FmtQ4_K = FmtQK<false>;
using FmtQ5_K = FmtQK<true>;

// Q6_K: ql[128], qh[64], int8 scales[16], d. Each half of 128 elements uses
// 64 ql bytes, 32 qh bytes and 8 scales; q = (4 low | 2 high bits) - 32 and
// w = (d * scale) * q with one scale per 16 elements.
struct FmtQ6_K {
  static constexpr int64_t kBlock = 256;
  static constexpr int64_t kBytes = 210;
  template <class Sink>
  static HWY_INLINE void Decode(const uint8_t* b, Sink& sink) {
    const DF df;
    const DU32 du;
    const DI32 di;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
    const float d = LoadF16(b + 208);
    const auto k15 = hn::Set(du, 0xF);
    const auto k3 = hn::Set(du, 3);
    const auto k32 = hn::Set(di, 32);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b + 64 * half;
      const uint8_t* qh = b + 128 + 32 * half;
      const int8_t* sc = scales + 8 * half;
      const int64_t base = 128 * half;
      for (int64_t l = 0; l < 32; l += N) {
        const int is = static_cast<int>(l / 16);
        const auto a = LoadCodes(ql + l);
        const auto c = LoadCodes(ql + l + 32);
        const auto h = LoadCodes(qh + l);
        const auto q1 = hn::Or(hn::And(a, k15), hn::ShiftLeft<4>(hn::And(h, k3)));
        const auto q2 = hn::Or(hn::And(c, k15),
                               hn::ShiftLeft<4>(hn::And(hn::ShiftRight<2>(h), k3)));
        const auto q3 = hn::Or(hn::ShiftRight<4>(a),
                               hn::ShiftLeft<4>(hn::And(hn::ShiftRight<4>(h), k3)));
        const auto q4 = hn::Or(hn::ShiftRight<4>(c),
                               hn::ShiftLeft<4>(hn::ShiftRight<6>(h)));
        const auto f = [&](hn::Vec<DU32> q) {
          return hn::ConvertTo(df, hn::Sub(hn::BitCast(di, q), k32));
        };
        sink.template Put<0>(base + l, hn::Mul(hn::Set(df, d * static_cast<float>(sc[is])), f(q1)));
        sink.template Put<1>(base + l + 32, hn::Mul(hn::Set(df, d * static_cast<float>(sc[is + 2])), f(q2)));
        sink.template Put<0>(base + l + 64, hn::Mul(hn::Set(df, d * static_cast<float>(sc[is + 4])), f(q3)));
        sink.template Put<1>(base + l + 96, hn::Mul(hn::Set(df, d * static_cast<float>(sc[is + 6])), f(q4)));
      }
    }
  }
};

// Formats without a dedicated kernel (Q2_K, Q3_K): the scalar reference
// dequantises one block into a stack buffer, which then feeds the sink.
template <GgmlType kType>
struct FmtRef {
  static constexpr int64_t kBlock = 256;
  static constexpr int64_t kBytes = kType == GgmlType::kQ2_K ? 84 : 110;
  template <class Sink>
  static HWY_INLINE void Decode(const uint8_t* b, Sink& sink) {
    const DF df;
    const int64_t N = static_cast<int64_t>(hn::Lanes(df));
    HWY_ALIGN float tmp[kBlock];  // [kBlock]
    DequantizeRowRef(kType, b, tmp, kBlock);
    for (int64_t j = 0; j < kBlock; j += 2 * N) {
      sink.template Put<0>(j, hn::Load(df, tmp + j));
      sink.template Put<1>(j + N, hn::Load(df, tmp + j + N));
    }
  }
};

// ---------------------------------------------------------------- rows

template <class Fmt>
HWY_INLINE float DotRowT(const uint8_t* row, const float* x, int64_t n) {
  DotSink sink(x);
  const int64_t blocks = n / Fmt::kBlock;
  for (int64_t b = 0; b < blocks; ++b) {
    Fmt::Decode(row + b * Fmt::kBytes, sink);
    sink.Advance(Fmt::kBlock);
  }
  return sink.Sum();
}

template <class Fmt>
HWY_INLINE void DequantRowT(const uint8_t* row, float* y, int64_t n) {
  StoreSink sink{y};
  const int64_t blocks = n / Fmt::kBlock;
  for (int64_t b = 0; b < blocks; ++b) {
    Fmt::Decode(row + b * Fmt::kBytes, sink);
    sink.Advance(Fmt::kBlock);
  }
}

template <class Fmt>
HWY_INLINE void DequantRowBF16T(const uint8_t* row, uint16_t* y, int64_t n) {
  StoreBF16Sink sink{y};
  const int64_t blocks = n / Fmt::kBlock;
  for (int64_t b = 0; b < blocks; ++b) {
    Fmt::Decode(row + b * Fmt::kBytes, sink);
    sink.Advance(Fmt::kBlock);
  }
}

template <class Fmt>
HWY_NOINLINE void RowsT(const uint8_t* w, int64_t row_bytes, const float* x,
                        int64_t n, float* y, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) y[r] = DotRowT<Fmt>(w + r * row_bytes, x, n);
}

// Calls fn(Fmt{}) for the block format of `type`; false for plain types.
template <class Fn>
HWY_INLINE bool WithFormat(GgmlType type, const Fn& fn) {
  switch (type) {
    case GgmlType::kQ4_0: fn(FmtQ4_0()); return true;
    case GgmlType::kQ4_1: fn(FmtQ4_1()); return true;
    case GgmlType::kQ5_0: fn(FmtQ5_0()); return true;
    case GgmlType::kQ5_1: fn(FmtQ5_1()); return true;
    case GgmlType::kQ8_0: fn(FmtQ8_0()); return true;
    case GgmlType::kQ2_K: fn(FmtRef<GgmlType::kQ2_K>()); return true;
    case GgmlType::kQ3_K: fn(FmtRef<GgmlType::kQ3_K>()); return true;
    case GgmlType::kQ4_K: fn(FmtQ4_K()); return true;
    case GgmlType::kQ5_K: fn(FmtQ5_K()); return true;
    case GgmlType::kQ6_K: fn(FmtQ6_K()); return true;
    default: return false;
  }
}

void MatVecRowsImpl(GgmlType type, const void* w, int64_t row_bytes,
                    const float* x, int64_t n, float* y, int64_t r0,
                    int64_t r1) {
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  switch (type) {
    case GgmlType::kF32:
      for (int64_t r = r0; r < r1; ++r) {
        y[r] = DotF32(reinterpret_cast<const float*>(wb + r * row_bytes), x, n);
      }
      return;
    case GgmlType::kF16:
      for (int64_t r = r0; r < r1; ++r) {
        y[r] = DotF16(reinterpret_cast<const uint16_t*>(wb + r * row_bytes), x, n);
      }
      return;
    case GgmlType::kBF16:
      for (int64_t r = r0; r < r1; ++r) {
        y[r] = DotBF16(reinterpret_cast<const uint16_t*>(wb + r * row_bytes), x, n);
      }
      return;
    default:
      break;
  }
  const bool ok = WithFormat(type, [&](auto fmt) {
    RowsT<decltype(fmt)>(wb, row_bytes, x, n, y, r0, r1);
  });
  SKV_CHECK(ok);
}

float DotRowImpl(GgmlType type, const void* row, const float* x, int64_t n) {
  float y = 0.0f;
  MatVecRowsImpl(type, row, 0, x, n, &y, 0, 1);
  return y;
}

void DequantizeRowImpl(GgmlType type, const void* src, float* dst, int64_t n) {
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case GgmlType::kF16:
      F16ToF32Impl(static_cast<const uint16_t*>(src), dst, n);
      return;
    case GgmlType::kBF16:
      BF16ToF32Impl(static_cast<const uint16_t*>(src), dst, n);
      return;
    default:
      break;
  }
  const uint8_t* s = static_cast<const uint8_t*>(src);
  const bool ok = WithFormat(type, [&](auto fmt) {
    DequantRowT<decltype(fmt)>(s, dst, n);
  });
  SKV_CHECK(ok);
}

void DequantizeRowBF16Impl(GgmlType type, const void* src, uint16_t* dst,
                           int64_t n) {
  switch (type) {
    case GgmlType::kF32:
      F32ToBF16Impl(static_cast<const float*>(src), dst, n);
      return;
    case GgmlType::kF16: {
      // f16 -> f32 is exact, so one rounding (to bf16) as in the reference.
      const auto* h = static_cast<const uint16_t*>(src);
      const DF df;
      const int64_t N = static_cast<int64_t>(hn::Lanes(df));
      int64_t i = 0;
      for (; i + N <= n; i += N) {
        hn::StoreU(F32ToBF16Bits(LoadHalf(h + i)), DU16(), dst + i);
      }
      for (; i < n; ++i) {
        dst[i] = quant_internal::F32ToBF16Bits(F16BitsToF32(h[i]));
      }
      return;
    }
    case GgmlType::kBF16:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(uint16_t));
      return;
    default:
      break;
  }
  const uint8_t* s = static_cast<const uint8_t*>(src);
  const bool ok = WithFormat(type, [&](auto fmt) {
    DequantRowBF16T<decltype(fmt)>(s, dst, n);
  });
  SKV_CHECK(ok);
}

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cstdio>

#include "simd/dispatch.h"

namespace skv {
namespace {

// STRUCTKV_SIMD_MAX (dispatch.h), applied when the library loads: this file
// is linked into every binary that runs a kernel, and the cap must be in
// place before the first dispatch. A bad value is reported and ignored here;
// simd's DispatchTest fails on it, so CI cannot silently run uncapped.
[[maybe_unused]] const bool kSimdCapApplied = [] {
  const Status st = CapSimdTargetsFromEnv();
  if (!st.ok()) std::fprintf(stderr, "structkv: %s (ignored)\n", st.message().c_str());
  return st.ok();
}();

}  // namespace

HWY_EXPORT(F16ToF32Impl);
HWY_EXPORT(F32ToF16Impl);
HWY_EXPORT(BF16ToF32Impl);
HWY_EXPORT(F32ToBF16Impl);
HWY_EXPORT(MatVecRowsImpl);
HWY_EXPORT(DotRowImpl);
HWY_EXPORT(DequantizeRowImpl);
HWY_EXPORT(DequantizeRowBF16Impl);
HWY_EXPORT(TargetNameImpl);

namespace {

void CheckRow(GgmlType type, int64_t n) {
  const GgmlTypeTraits& t = GetGgmlType(type);
  SKV_CHECK(t.can_compute);
  SKV_CHECK(n >= 0 && n % t.block_size == 0);
}

}  // namespace

void DequantizeRow(GgmlType type, const void* src, float* dst, int64_t n) {
  CheckRow(type, n);
  HWY_DYNAMIC_DISPATCH(DequantizeRowImpl)(type, src, dst, n);
}

void DequantizeRowBF16(GgmlType type, const void* src, uint16_t* dst,
                       int64_t n) {
  CheckRow(type, n);
  HWY_DYNAMIC_DISPATCH(DequantizeRowBF16Impl)(type, src, dst, n);
}

float DotRow(GgmlType type, const void* row, const float* x, int64_t n) {
  CheckRow(type, n);
  return HWY_DYNAMIC_DISPATCH(DotRowImpl)(type, row, x, n);
}

void MatVec(GgmlType type, const void* w, int64_t row_bytes, const float* x,
            int64_t n, float* y, int64_t rows) {
  CheckRow(type, n);
  SKV_CHECK(row_bytes >= GgmlRowBytes(type, n) && rows >= 0);
  if (rows == 0) return;
  // Resolve the dispatch target before the threads start, so they never
  // race on hwy's lazy initialisation.
  (void)ActiveSimdTarget();
  // Each range should stream tens of KB of weights to amortise the
  // scheduling; every row is computed by one thread, so results do not depend
  // on the thread count.
  const int64_t grain = std::max<int64_t>(1, (64 << 10) / std::max<int64_t>(row_bytes, 1));
  ParallelRanges(rows, grain, [&](int64_t r0, int64_t r1) {
    HWY_DYNAMIC_DISPATCH(MatVecRowsImpl)(type, w, row_bytes, x, n, y, r0, r1);
  });
}

void F16ToF32(const uint16_t* src, float* dst, int64_t n) {
  HWY_DYNAMIC_DISPATCH(F16ToF32Impl)(src, dst, n);
}
void F32ToF16(const float* src, uint16_t* dst, int64_t n) {
  HWY_DYNAMIC_DISPATCH(F32ToF16Impl)(src, dst, n);
}
void BF16ToF32(const uint16_t* src, float* dst, int64_t n) {
  HWY_DYNAMIC_DISPATCH(BF16ToF32Impl)(src, dst, n);
}
void F32ToBF16(const float* src, uint16_t* dst, int64_t n) {
  HWY_DYNAMIC_DISPATCH(F32ToBF16Impl)(src, dst, n);
}

const char* ActiveSimdTarget() { return HWY_DYNAMIC_DISPATCH(TargetNameImpl)(); }

}  // namespace skv
#endif  // HWY_ONCE
