// Float arithmetic that gives the same bits on every Highway target, for the
// float kernels of the forward pass (ops.cc, attention.cc, quant.cc). Two
// things make a SIMD kernel's result depend on the target, and both are
// removed here:
//   - fused multiply-adds: AVX2 and AVX-512 round a*b+c once, SSE4 and the
//     scalar target (no FMA instruction) round it twice. MulAddFixed rounds
//     once everywhere (std::fma, lane by lane, where there is no FMA
//     instruction: correct, slower, and only on pre-2013 CPUs), and ExpFixed
//     / TanhFixed are built on it (Highway's Exp uses the target's MulAdd).
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
  return MulAddFixed(d, hn::Neg(a), b, c);
}

// a * b - c rounded once.
template <class D>
HWY_INLINE hn::Vec<D> MulSubFixed(D d, hn::Vec<D> a, hn::Vec<D> b, hn::Vec<D> c) {
  return MulAddFixed(d, a, b, hn::Neg(c));
}

// e^x for f32 lanes, the same bits on every target; relative error about
// 2 ulp. Cody-Waite reduction x = k ln2 + r with |r| <= ln2 / 2, a degree-6
// polynomial for e^r (Cephes' expf coefficients, Horner), and 2^k applied
// in two steps so that k down to -149 reaches the subnormals. Returns 0 for
// x < -104 (and -inf), +inf above 88.72.
template <class D>
HWY_INLINE hn::Vec<D> ExpFixed(D d, hn::Vec<D> x) {
  using V = hn::Vec<D>;
  const hn::RebindToSigned<D> di;
  const V lo = hn::Set(d, -104.f), hi = hn::Set(d, 88.7228394f);
  const V xc = hn::Min(hn::Max(x, lo), hi);
  // k = round(x / ln2): nearest, ties away from zero, in [-151, 128].
  const V kf = hn::Round(hn::Mul(xc, hn::Set(d, 1.44269504088896341f)));
  const auto k = hn::ConvertTo(di, kf);
  V r = NegMulAddFixed(d, kf, hn::Set(d, 0.693359375f), xc);
  r = NegMulAddFixed(d, kf, hn::Set(d, -2.12194440e-4f), r);
  V p = hn::Set(d, 1.9875691500e-4f);
  p = MulAddFixed(d, p, r, hn::Set(d, 1.3981999507e-3f));
  p = MulAddFixed(d, p, r, hn::Set(d, 8.3334519073e-3f));
  p = MulAddFixed(d, p, r, hn::Set(d, 4.1665795894e-2f));
  p = MulAddFixed(d, p, r, hn::Set(d, 1.6666665459e-1f));
  p = MulAddFixed(d, p, r, hn::Set(d, 5.0000001201e-1f));
  // e^r = 1 + r + r^2 * p
  const V er = hn::Add(MulAddFixed(d, hn::Mul(r, r), p, r), hn::Set(d, 1.f));
  // 2^k as 2^(k - k/2) * 2^(k/2): each factor is a normal number.
  const auto k1 = hn::ShiftRight<1>(k);
  const auto k2 = hn::Sub(k, k1);
  const auto bias = hn::Set(di, 127);
  const V s1 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(k1, bias)));
  const V s2 = hn::BitCast(d, hn::ShiftLeft<23>(hn::Add(k2, bias)));
  const V y = hn::Mul(hn::Mul(er, s1), s2);
  const V inf = hn::Set(d, HUGE_VALF);
  return hn::IfThenElse(hn::Lt(x, lo), hn::Zero(d),
                        hn::IfThenElse(hn::Gt(x, hi), inf, y));
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
  const V e = ExpFixed(d, hn::Min(hn::Add(ax, ax), hn::Set(d, 18.f)));
  const V mid = hn::Div(hn::Sub(e, hn::Set(d, 1.f)), hn::Add(e, hn::Set(d, 1.f)));
  V t = hn::IfThenElse(hn::Lt(ax, hn::Set(d, 0.25f)), small, mid);
  t = hn::IfThenElse(hn::Gt(ax, hn::Set(d, 9.f)), hn::Set(d, 1.f), t);
  return hn::CopySign(t, x);
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
    HWY_ALIGN hn::TFromD<D> lanes[kN];
    hn::Store(v[0], d, lanes);
    for (size_t h = hn::Lanes(d) / 2; h >= 1; h /= 2) {
      for (size_t l = 0; l < h; ++l) lanes[l] += lanes[l + h];
    }
    return lanes[0];
  }
};

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace fixed
}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#endif  // SKV_SIMD_FIXED_MATH_INL_H_ toggle
