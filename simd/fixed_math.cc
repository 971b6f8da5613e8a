// Per-target entry points of fixed_math.h.
#include "simd/fixed_math.h"

#include <algorithm>
#include <cmath>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/fixed_math.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "simd/fixed_math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::CappedTag<float, 16>;

// Applies fn to x[0, n) one vector at a time (the tail zero-filled).
template <class Fn>
HWY_INLINE void MapFixed(const float* x, float* y, int64_t n, const Fn& fn) {
  const DF d;
  constexpr int64_t N = hn::MaxLanes(DF());
  HWY_ALIGN float buf[N];
  for (int64_t i = 0; i < n; i += N) {
    const int64_t m = std::min<int64_t>(N, n - i);
    for (int64_t l = 0; l < N; ++l) buf[l] = l < m ? x[i + l] : 0.f;
    hn::Store(fn(d, hn::Load(d, buf)), d, buf);
    std::copy_n(buf, m, y + i);
  }
}

void FixedExpImpl(const float* x, float* y, int64_t n) {
  MapFixed(x, y, n, [](DF d, hn::Vec<DF> v) HWY_ATTR { return fixed::ExpFixed(d, v); });
}

void FixedTanhImpl(const float* x, float* y, int64_t n) {
  MapFixed(x, y, n, [](DF d, hn::Vec<DF> v) HWY_ATTR { return fixed::TanhFixed(d, v); });
}

float FixedSumImpl(const float* x, int64_t n) {
  constexpr int64_t kW = 64, N = hn::MaxLanes(DF());
  fixed::FixedAcc<kW, DF> acc;
  int64_t i = 0;
  for (; i + kW <= n; i += kW) {
    for (int64_t j = 0; j < kW / N; ++j) acc.Add(j, hn::LoadU(DF(), x + i + j * N));
  }
  float sum = acc.FoldSum();
  for (; i < n; ++i) sum += x[i];
  return sum;
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace skv {

HWY_EXPORT(FixedExpImpl);
HWY_EXPORT(FixedTanhImpl);
HWY_EXPORT(FixedSumImpl);

void FixedExp(const float* x, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(FixedExpImpl)(x, y, n);
}

void FixedTanh(const float* x, float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(FixedTanhImpl)(x, y, n);
}

float FixedSum(const float* x, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(FixedSumImpl)(x, n);
}

float FixedSumRef(const float* x, int64_t n) {
  constexpr int64_t kW = 64;
  std::vector<float> lane(kW, 0.f);  // [kW] virtual lanes
  int64_t i = 0;
  for (; i + kW <= n; i += kW) {
    for (int64_t l = 0; l < kW; ++l) lane[l] += x[i + l];
  }
  for (int64_t h = kW / 2; h >= 1; h /= 2) {
    for (int64_t l = 0; l < h; ++l) lane[l] += lane[l + h];
  }
  float sum = lane[0];
  for (; i < n; ++i) sum += x[i];
  return sum;
}

}  // namespace skv
#endif  // HWY_ONCE
