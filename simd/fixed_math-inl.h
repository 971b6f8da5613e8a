// Float arithmetic that gives the same bits on every Highway target, for the
// float kernels of the forward pass (ops.cc, attention.cc, quant.cc). Two
// things make a SIMD kernel's result depend on the target, and both are
// removed here:
//   - fused multiply-adds: AVX2 and AVX-512 round a*b+c once, SSE4 and the
//     scalar target (no FMA instruction) round it twice. MulAddFixed rounds
//     once everywhere (std::fma, lane by lane, where there is no FMA
//     instruction: correct, slower, and only on pre-2013 CPUs), and ExpFixed
//     / TanhFixed are built on it (Highway's Exp uses the target's MulAdd,
//     which SSE4 rounds twice).
//   - reductions across lanes: a sum accumulated in N-lane vectors and then
//     reduced depends on N. FixedAcc accumulates in W virtual lanes (W / N
//     vectors of the target) and FoldSum reduces them in one tree (lanes W/2
//     apart, then W/4, ..., 1), so the order of every addition is the same
//     whether a target has 1, 4, 8 or 16 lanes.
// Everything else a kernel does lane by lane (loads, multiplies, adds,
// divides, conversions, compares) is IEEE and needs nothing. The promise
// this buys: the same input gives the same bits on AVX-512, AVX2, SSE4 and
// scalar, so a batch spread over different machines makes the same
// compression decisions (tests/compression_contract_test.cc).
//
// Include inside a file compiled once per target (foreach_target), after
// hwy/highway.h, at namespace scope of skv::HWY_NAMESPACE's includer.

// Per-target include guard (Highway's toggle idiom).
#if defined(SKV_SIMD_FIXED_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SKV_SIMD_FIXED_MATH_INL_H_
#undef SKV_SIMD_FIXED_MATH_INL_H_
#else
#define SKV_SIMD_FIXED_MATH_INL_H_
#endif

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {
namespace fixed {
namespace hn = hwy::HWY_NAMESPACE;

// a * b + c rounded once, on every target.
template <class D>
HWY_INLINE hn::Vec<D> MulAddFixed(D d, hn::Vec<D> a, hn::Vec<D> b, hn::Vec<D> c) {
#if HWY_NATIVE_FMA
  (void)d;
  return hn::MulAdd(a, b, c);
#else
  using T = hn::TFromD<D>;
  constexpr size_t kN = hn::MaxLanes(D());
  HWY_ALIGN T la[kN], lb[kN], lc[kN];
  hn::Store(a, d, la);
  hn::Store(b, d, lb);
  hn::Store(c, d, lc);
  for (size_t i = 0; i < hn::Lanes(d); ++i) la[i] = std::fma(la[i], lb[i], lc[i]);
  return hn::Load(d, la);
#endif
}

// c - a * b rounded once.
template <class D>
HWY_INLINE hn::Vec<D> NegMulAddFixed(D d, hn::Vec<D> a, hn::Vec<D> b, hn::Vec<D> c) {
#if HWY_NATIVE_FMA
  return hn::NegMulAdd(a, b, c);
#else
  return MulAddFixed(d, hn::Neg(a), b, c);
#endif
}

// a * b - c rounded once.
template <class D>
HWY_INLINE hn::Vec<D> MulSubFixed(D d, hn::Vec<D> a, hn::Vec<D> b, hn::Vec<D> c) {
#if HWY_NATIVE_FMA
  return hn::MulSub(a, b, c);
#else
  return MulAddFixed(d, a, b, hn::Neg(c));
#endif
}

// e^x for f32 lanes, the same bits on every target: the arithmetic of
// Highway's Exp (hwy/contrib/math, 1.0.3) step for step, with every
// multiply-add rounded once. So on AVX2 and AVX-512 the bits (and the speed)
// are Highway's, and SSE4 and scalar now compute the same ones. Reduction
// x = q ln2 + r (q = x / ln2 rounded half away from zero, ln2 in two
// parts), a degree-5 polynomial in Estrin's scheme, 2^q applied in two
// steps. Valid for x <= 88.7 (the callers' range: softmax and attention
// arguments are <= 0, SiLU clamps at 88, tanh at 18); 0 below -104; the
// argument is converted to int first, so callers clamp -inf.
template <class D>
HWY_INLINE hn::Vec<D> ExpFixed(D d, hn::Vec<D> x) {
  using V = hn::Vec<D>;
  const hn::RebindToSigned<D> di;
  const V half = hn::Or(hn::Set(d, 0.5f), hn::And(x, hn::Set(d, -0.0f)));
  const auto q = hn::ConvertTo(di, MulAddFixed(d, x, hn::Set(d, 1.442695040888963407359924681f), half));
  const V qf = hn::ConvertTo(d, q);
  V r = MulAddFixed(d, qf, hn::Set(d, -0.693145751953125f), x);
  r = MulAddFixed(d, qf, hn::Set(d, -1.428606765330187045e-6f), r);
  const V r2 = hn::Mul(r, r), r4 = hn::Mul(r2, r2);
  const V p01 = MulAddFixed(d, hn::Set(d, +0.166666671633720397949219f), r, hn::Set(d, 0.5f));
  const V p23 = MulAddFixed(d, hn::Set(d, +0.00833336077630519866943359f), r,
                            hn::Set(d, +0.0416664853692054748535156f));
  const V p45 = MulAddFixed(d, hn::Set(d, +0.000198527617612853646278381f), r,
                            hn::Set(d, +0.00139304355252534151077271f));
  const V poly = MulAddFixed(d, r4, p45, MulAddFixed(d, r2, p23, p01));
  const V er = hn::Add(MulAddFixed(d, poly, r2, r), hn::Set(d, 1.f));
  // 2^q as 2^(q/2) * 2^(q - q/2): each factor a normal number.
  const auto q1 = hn::ShiftRight<1>(q);
  const auto bias = hn::Set(di, 0x7F);
  const V s1 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(q1, bias)));
  const V s2 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(hn::Sub(q, q1), bias)));
  return hn::IfThenElseZero(hn::Ge(x, hn::Set(d, -104.f)), hn::Mul(hn::Mul(er, s1), s2));
}

// tanh(x) for f32 lanes, the same bits on every target: an odd Taylor
// polynomial for |x| < 0.25 (where (e^2x - 1) / (e^2x + 1) would cancel),
// (e^2x - 1) / (e^2x + 1) up to |x| = 9, then +-1. About 3 ulp.
template <class D>
HWY_INLINE hn::Vec<D> TanhFixed(D d, hn::Vec<D> x) {
  using V = hn::Vec<D>;
  const V ax = hn::Abs(x);
  const V x2 = hn::Mul(ax, ax);
  // x (1 - x^2/3 + 2x^4/15 - 17x^6/315 + 62x^8/2835)
  V p = hn::Set(d, 62.f / 2835.f);
  p = MulAddFixed(d, p, x2, hn::Set(d, -17.f / 315.f));
  p = MulAddFixed(d, p, x2, hn::Set(d, 2.f / 15.f));
  p = MulAddFixed(d, p, x2, hn::Set(d, -1.f / 3.f));
  const V small = MulAddFixed(d, hn::Mul(p, x2), ax, ax);
  const V e = ExpFixed(d, hn::Min(hn::Add(ax, ax), hn::Set(d, 18.f)));  // <= 88.7
  const V mid = hn::Div(hn::Sub(e, hn::Set(d, 1.f)), hn::Add(e, hn::Set(d, 1.f)));
  V t = hn::IfThenElse(hn::Lt(ax, hn::Set(d, 0.25f)), small, mid);
  t = hn::IfThenElse(hn::Gt(ax, hn::Set(d, 9.f)), hn::Set(d, 1.f), t);
  return hn::CopySign(t, x);
}

// Sum of v's lanes in the tree of FixedAcc::FoldSum: the upper half of the
// lanes added onto the lower half, repeatedly.
template <class D>
HWY_INLINE hn::TFromD<D> FoldLanes(D d, hn::Vec<D> v) {
#if HWY_TARGET == HWY_SCALAR
  return hn::GetLane(v);  // one lane
#else
  if constexpr (hn::MaxLanes(D()) == 1) {
    return hn::GetLane(v);
  } else {
    const hn::Half<D> dh;
    return FoldLanes(dh, hn::Add(hn::LowerHalf(dh, v), hn::UpperHalf(dh, v)));
  }
#endif
}

// W virtual lanes held as W / N vectors of the target's N lanes: virtual
// lane j * N + l is lane l of vector j. FoldSum reduces them in one fixed
// tree (pairs W/2 apart, then W/4, ..., then neighbours), which on every
// target adds the same numbers in the same order.
template <size_t W, class D>
struct FixedAcc {
  static constexpr size_t kN = hn::MaxLanes(D());
  static_assert(W % kN == 0 && (W & (W - 1)) == 0, "W: a power of two >= N");
  static constexpr size_t kVectors = W / kN;
  hn::Vec<D> v[kVectors];

  HWY_INLINE FixedAcc() {
    for (size_t j = 0; j < kVectors; ++j) v[j] = hn::Zero(D());
  }

  // Virtual lanes [j * N, j * N + N) += a * b, rounded once.
  HWY_INLINE void MulAdd(size_t j, hn::Vec<D> a, hn::Vec<D> b) {
    v[j] = MulAddFixed(D(), a, b, v[j]);
  }
  HWY_INLINE void Add(size_t j, hn::Vec<D> a) { v[j] = hn::Add(v[j], a); }

  HWY_INLINE hn::TFromD<D> FoldSum() {
    const D d;
    for (size_t k = kVectors; k > 1; k /= 2) {
      for (size_t j = 0; j < k / 2; ++j) v[j] = hn::Add(v[j], v[j + k / 2]);
    }
    return FoldLanes(d, v[0]);
  }
};

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace fixed
}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#endif  // SKV_SIMD_FIXED_MATH_INL_H_ toggle
