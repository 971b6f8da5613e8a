// QuantizeActivations (quant_dot.h) with Highway: the same 8-bit blocks as
// the scalar reference QuantizeActivationsRef (quant_dot_ref.cc), bit for
// bit. Every prefill GEMM and decode GEMV with integer dot products
// quantises its input first; the scalar loop cost ~15% of a Gemma 3 270M
// prefill once the integer GEMM got fast (perf, pp512, 2 threads).
//
// Same arithmetic as the reference: the block's largest magnitude, the
// scale from it (Q8_0: amax / 127 rounded through f16; Q8_K: -127 / max with
// the sign of the first largest element), then each value multiplied by
// the inverse scale and rounded half to even (Round). A row with any
// non-finite value, or whose scale or codes fall outside int8 (denormal
// amax), goes to the reference, which flags it (QuantizedActivations::
// finite) exactly as before.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL  // the same targets as quant_dot.cc
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/quant_activations.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <cfloat>
#include <cmath>

#include "base/check.h"
#include "simd/activation_round.h"
#include "simd/quant.h"
#include "simd/quant_dot.h"

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Largest |x[j]| of the block, or -1 if some x[j] is not finite.
template <int kBlock>
HWY_INLINE float BlockAmax(const float* x) {
  const hn::ScalableTag<float> df;
  const size_t N = hn::Lanes(df);
  auto vmax = hn::Zero(df);
  auto ok = hn::Set(df, 1.f);  // stays 1 while every |x| <= FLT_MAX
  const auto big = hn::Set(df, FLT_MAX);
  for (size_t i = 0; i < kBlock; i += N) {
    const auto a = hn::Abs(hn::LoadU(df, x + i));
    vmax = hn::Max(vmax, a);
    ok = hn::IfThenElseZero(hn::Le(a, big), ok);  // nan compares false
  }
  if (hn::GetLane(hn::MinOfLanes(df, ok)) == 0.f) return -1.f;
  return hn::GetLane(hn::MaxOfLanes(df, vmax));
}

// q[j] = Round(x[j] * scale) clamped above at `hi`, as int8; false if a
// code is outside [-127, 127] (the reference then flags the row).
template <int kBlock>
HWY_INLINE bool RoundBlock(const float* x, float scale, float hi, int8_t* q) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<int8_t, decltype(df)> d8;
  const size_t N = hn::Lanes(df);
  const auto vs = hn::Set(df, scale);
  const auto vhi = hn::Set(df, hi);
  const auto lim = hn::Set(df, 127.f);
  auto ok = hn::Set(df, 1.f);
  for (size_t i = 0; i < kBlock; i += N) {
    const auto r = hn::Min(vhi, hn::Round(hn::Mul(hn::LoadU(df, x + i), vs)));
    ok = hn::IfThenElseZero(hn::Le(hn::Abs(r), lim), ok);
    hn::StoreU(hn::DemoteTo(d8, hn::ConvertTo(di, r)), d8, q + i);
  }
  return hn::GetLane(hn::MinOfLanes(df, ok)) != 0.f;
}

// Index of the first j with |x[j]| == amax (the reference keeps the first
// strictly larger magnitude it meets).
HWY_INLINE int FirstAtMagnitude(const float* x, float amax) {
  const hn::ScalableTag<float> df;
  const size_t N = hn::Lanes(df);
  const auto va = hn::Set(df, amax);
  for (size_t i = 0; i < 256; i += N) {
    const intptr_t j = hn::FindFirstTrue(df, hn::Eq(hn::Abs(hn::LoadU(df, x + i)), va));
    if (j >= 0) return static_cast<int>(i + j);
  }
  return 0;  // unreachable: amax is one of the magnitudes
}

// Codes and scales of n values in blocks of 32 (Q8_0) or 256 (Q8_K).
// Returns false, with q / d partly written, where the reference must decide.
bool QuantizeRowImpl(bool k, const float* x, int64_t n, int8_t* q, float* d) {
  if (!k) {
    for (int64_t b = 0; b < n / 32; ++b) {
      const float* xb = x + 32 * b;
      const float amax = BlockAmax<32>(xb);
      if (amax < 0.f) return false;
      d[b] = F16BitsToF32(F32ToF16Bits(amax / 127.f));
      if (!std::isfinite(d[b])) return false;
      const float id = amax != 0.f ? 127.f / amax : 0.f;
      if (!RoundBlock<32>(xb, id, FLT_MAX, q + 32 * b)) return false;
    }
    return true;
  }
  for (int64_t b = 0; b < n / 256; ++b) {
    const float* xb = x + 256 * b;
    const float amax = BlockAmax<256>(xb);
    if (amax < 0.f) return false;
    int8_t* qb = q + 256 * b;
    if (amax == 0.f) {
      for (int j = 0; j < 256; ++j) qb[j] = 0;
      d[b] = 0.f;
      continue;
    }
    const float iscale = -127.f / xb[FirstAtMagnitude(xb, amax)];
    if (!RoundBlock<256>(xb, iscale, 127.f, qb)) return false;
    d[b] = 1.f / iscale;
    if (!std::isfinite(d[b])) return false;
  }
  return true;
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace skv {

HWY_EXPORT(QuantizeRowImpl);

void QuantizeActivations(GgmlType weight_type, const float* x, int64_t n,
                         QuantizedActivations* out) {
  SKV_CHECK(HasIntegerDot(weight_type));
  const GgmlType type = ActivationType(weight_type);
  const bool k = type == GgmlType::kQ8_K;
  const int block = k ? 256 : 32;
  SKV_CHECK(n >= 0 && n % block == 0);
  out->q.resize(n);
  out->d.resize(n / block);
  if (!HWY_DYNAMIC_DISPATCH(QuantizeRowImpl)(k, x, n, out->q.data(),
                                             out->d.data())) {
    QuantizeActivationsRef(weight_type, x, n, out);
    return;
  }
  out->type = type;
  out->n = n;
  out->finite = true;
  FillActivationSums(weight_type, out);
}

}  // namespace skv
#endif  // HWY_ONCE
