// Highway kernels for the elementwise and row ops of the forward pass (see
// simd/ops.h). Scalar references live in simd/ops_ref.cc.
#include "simd/ops.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "base/check.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/ops.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "simd/fixed_math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using fixed::ExpFixed;
using fixed::FixedAcc;
using fixed::MulAddFixed;
using fixed::MulSubFixed;
using VF = hn::Vec<DF>;

// Upper bound on the lanes of any target (AVX-512: 16 floats), for the
// stack buffers that carry a partial vector at the end of a row.
constexpr int64_t kMaxLanes = 64;

// Loads x[0, n) with n < Lanes(d) into a vector whose other lanes hold
// `fill`, without reading past the end (a masked full load could fault on
// targets that emulate it).
HWY_INLINE VF LoadTail(DF d, const float* x, int64_t n, float fill) {
  HWY_ALIGN float buf[kMaxLanes];
  const int64_t lanes = hn::Lanes(d);
  for (int64_t i = 0; i < lanes; ++i) buf[i] = i < n ? x[i] : fill;
  return hn::Load(d, buf);
}

// Stores the first n lanes of v to x.
HWY_INLINE void StoreTail(DF d, VF v, int64_t n, float* x) {
  HWY_ALIGN float buf[kMaxLanes];
  hn::Store(v, d, buf);
  std::memcpy(x, buf, static_cast<size_t>(n) * sizeof(float));
}

// out[i] = f(a[i], b[i]); out may alias a or b (each vector is loaded before
// it is stored).
template <class F>
HWY_INLINE void Map2(const float* a, const float* b, int64_t n, float* out,
                     const F& f) {
  const DF d;
  const int64_t N = hn::Lanes(d);
  int64_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(f(d, hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
  }
  if (i < n) {
    const int64_t r = n - i;
    StoreTail(d, f(d, LoadTail(d, a + i, r, 0.f), LoadTail(d, b + i, r, 0.f)),
              r, out + i);
  }
}

// Sum of x[i]^2 as ggml's rms_norm computes it: each square rounded to f32
// (no FMA), the sum kept in f64. An f32 sum would differ from llama.cpp's
// by an ulp now and then; that moves the norm's scale, and with it every
// activation that is rounded to 8 bits before the next matmul (measured: a
// random-weight llama file agreed with llama.cpp to 2e-6 in the logits
// until the first such flip, then by 0.6). The f64 sum runs in 8 virtual
// lanes (fixed_math-inl.h), the same order on every target; it differs
// from ggml's sequential loop in its last bits only: the f32 mean is the
// same.
HWY_INLINE double SumSquaresF64(const float* x, int64_t n) {
  using DD = hn::CappedTag<double, 8>;
  const DD dd;
  const hn::Rebind<float, DD> dh;  // as many floats as doubles
  constexpr int64_t kW = 8, N = hn::MaxLanes(dd);
  FixedAcc<kW, DD> acc;
  int64_t i = 0;
  for (; i + kW <= n; i += kW) {
    for (int64_t j = 0; j < kW / N; ++j) {
      const auto a = hn::LoadU(dh, x + i + j * N);
      acc.Add(j, hn::PromoteTo(dd, hn::Mul(a, a)));
    }
  }
  double sum = acc.FoldSum();
  for (; i < n; ++i) {
    const float sq = x[i] * x[i];
    sum += static_cast<double>(sq);
  }
  return sum;
}

HWY_INLINE void RmsNormOne(const float* x, const float* w, float eps,
                           int64_t n, float* out) {
  if (n <= 0) return;
  // ggml: mean = (float)(sum / n) in f64, then 1.0f / sqrtf(mean + eps).
  const float mean = static_cast<float>(SumSquaresF64(x, n) / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  const DF d;
  const VF vs = hn::Set(d, scale);
  if (w == nullptr) {
    Map2(x, x, n, out, [&](DF, VF a, VF) { return hn::Mul(a, vs); });
  } else {
    Map2(x, w, n, out,
         [&](DF, VF a, VF b) { return hn::Mul(hn::Mul(a, vs), b); });
  }
}

void RmsNormImpl(const float* x, const float* w, float eps, int64_t n,
                 float* out) {
  RmsNormOne(x, w, eps, n, out);
}

void RmsNormRowsImpl(float* x, int64_t rows, int64_t n, int64_t stride,
                     const float* w, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    RmsNormOne(x + r * stride, w, eps, n, x + r * stride);
  }
}

// Largest rot_dim the stack tables hold; real models use <= 512.
constexpr int64_t kMaxRotDim = 2048;

void RopeImpl(float* x, int64_t n_heads, int64_t head_dim, int64_t pos,
              const RopeParams& p) {
  const int64_t rot = p.rot_dim;
  SKV_CHECK(rot >= 0 && rot % 2 == 0 && rot <= head_dim && rot <= kMaxRotDim);
  if (rot == 0) return;
  const int64_t half = rot / 2;
  HWY_ALIGN float cs[kMaxRotDim / 2];  // [half] cos
  HWY_ALIGN float sn[kMaxRotDim / 2];  // [half] sin
  RopeCosSin(pos, p, cs, sn);
  const DF d;
  const int64_t N = hn::Lanes(d);
  if (p.style == RopeParams::Style::kNeox) {
    // (x[i], x[i + half]) pairs: both halves are contiguous vectors.
    for (int64_t h = 0; h < n_heads; ++h) {
      float* x0 = x + h * head_dim;
      float* x1 = x0 + half;
      int64_t i = 0;
      for (; i + N <= half; i += N) {
        const VF a = hn::LoadU(d, x0 + i), b = hn::LoadU(d, x1 + i);
        const VF c = hn::LoadU(d, cs + i), s = hn::LoadU(d, sn + i);
        hn::StoreU(MulSubFixed(d, a, c, hn::Mul(b, s)), d, x0 + i);
        hn::StoreU(MulAddFixed(d, a, s, hn::Mul(b, c)), d, x1 + i);
      }
      for (; i < half; ++i) {  // the vectors' arithmetic, one lane at a time
        const float a = x0[i], b = x1[i];
        x0[i] = std::fma(a, cs[i], -(b * sn[i]));
        x1[i] = std::fma(a, sn[i], b * cs[i]);
      }
    }
    return;
  }
  // kNorm: adjacent pairs. Expand the tables to per-element form
  // c2 = (c0, c0, c1, c1, ...), s2 = (-s0, s0, -s1, s1, ...) so that
  // out = x * c2 + swap_pairs(x) * s2.
  HWY_ALIGN float c2[kMaxRotDim];  // [rot]
  HWY_ALIGN float s2[kMaxRotDim];  // [rot]
  for (int64_t i = 0; i < half; ++i) {
    c2[2 * i] = cs[i];
    c2[2 * i + 1] = cs[i];
    s2[2 * i] = -sn[i];
    s2[2 * i + 1] = sn[i];
  }
  for (int64_t h = 0; h < n_heads; ++h) {
    float* xh = x + h * head_dim;
    int64_t i = 0;
    // N is even on every compiled target (>= 4 lanes), so vectors never
    // split a pair.
    for (; N >= 2 && i + N <= rot; i += N) {
      const VF a = hn::LoadU(d, xh + i);
      const VF sw = hn::Reverse2(d, a);
      hn::StoreU(MulAddFixed(d, a, hn::LoadU(d, c2 + i),
                             hn::Mul(sw, hn::LoadU(d, s2 + i))),
                 d, xh + i);
    }
    for (; i < rot; i += 2) {  // the vectors' arithmetic, one pair at a time
      const float a = xh[i], b = xh[i + 1];
      xh[i] = std::fma(a, cs[i / 2], b * -sn[i / 2]);
      xh[i + 1] = std::fma(b, cs[i / 2], a * sn[i / 2]);
    }
  }
}

void SiluMulImpl(const float* gate, const float* up, int64_t n, float* out) {
  Map2(gate, up, n, out, [](DF d, VF g, VF u) {
    // exp(-g) overflows past 88; clamping keeps silu(g) ~ g * e^g ~ 0 there.
    const VF e = ExpFixed(d, hn::Min(hn::Neg(g), hn::Set(d, 88.f)));
    return hn::Mul(hn::Div(g, hn::Add(hn::Set(d, 1.f), e)), u);
  });
}

void AddInPlaceImpl(float* x, const float* y, int64_t n) {
  Map2(x, y, n, x, [](DF, VF a, VF b) { return hn::Add(a, b); });
}

void ScaleInPlaceImpl(float* x, float s, int64_t n) {
  const DF d;
  const VF vs = hn::Set(d, s);
  Map2(x, x, n, x, [&](DF, VF a, VF) { return hn::Mul(a, vs); });
}

void SoftmaxInPlaceImpl(float* x, int64_t n) {
  if (n <= 0) return;
  const DF d;
  const int64_t N = hn::Lanes(d);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  VF vmax = hn::Set(d, neg_inf);
  int64_t i = 0;
  for (; i + N <= n; i += N) vmax = hn::Max(vmax, hn::LoadU(d, x + i));
  if (i < n) vmax = hn::Max(vmax, LoadTail(d, x + i, n - i, neg_inf));
  const float mx = hn::GetLane(hn::MaxOfLanes(d, vmax));
  if (mx == neg_inf) {
    // Every entry is masked: zeros, like an attention row with no visible
    // key (a uniform answer would invent probability mass).
    for (int64_t k = 0; k < n; ++k) x[k] = 0.f;
    return;
  }
  // The sum in 16 virtual lanes (the same order on every target); the tail
  // of a partial 16 is zero-filled, exp(-inf) = 0.
  constexpr int64_t kW = 16;
  using DW = hn::CappedTag<float, kW>;
  const DW dw;
  constexpr int64_t NW = hn::MaxLanes(dw);
  const hn::Vec<DW> vm = hn::Set(dw, mx);
  FixedAcc<kW, DW> sum;
  for (i = 0; i < n; i += kW) {
    for (int64_t j = 0; j < kW / NW; ++j) {
      const int64_t at = i + j * NW, left = std::min<int64_t>(NW, n - at);
      if (left <= 0) break;
      HWY_ALIGN float buf[kMaxLanes];
      for (int64_t l = 0; l < NW; ++l) buf[l] = l < left ? x[at + l] : neg_inf;
      // exp(-inf) = 0: ExpFixed wants finite arguments, and is 0 below -104.
      const hn::Vec<DW> e =
          ExpFixed(dw, hn::Max(hn::Sub(hn::Load(dw, buf), vm), hn::Set(dw, -120.f)));
      sum.Add(j, e);
      hn::Store(e, dw, buf);
      std::memcpy(x + at, buf, static_cast<size_t>(left) * sizeof(float));
    }
  }
  const float inv = 1.0f / sum.FoldSum();
  ScaleInPlaceImpl(x, inv, n);
}

// Dot product in 64 virtual lanes (four AVX-512 vectors, eight AVX2
// vectors: enough independent FMA chains), the same bits on every target;
// the last n % 64 products are added in order after the lanes' sum.
float DotF32Impl(const float* a, const float* b, int64_t n) {
  constexpr int64_t kW = 64;
  using DW = hn::CappedTag<float, 16>;
  const DW d;
  constexpr int64_t NW = hn::MaxLanes(d);
  FixedAcc<kW, DW> acc;
  int64_t i = 0;
  for (; i + kW <= n; i += kW) {
    for (int64_t j = 0; j < kW / NW; ++j) {
      acc.MulAdd(j, hn::LoadU(d, a + i + j * NW), hn::LoadU(d, b + i + j * NW));
    }
  }
  float sum = acc.FoldSum();
  for (; i < n; ++i) sum = std::fma(a[i], b[i], sum);
  return sum;
}

}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace skv {

HWY_EXPORT(RmsNormImpl);
HWY_EXPORT(RmsNormRowsImpl);
HWY_EXPORT(RopeImpl);
HWY_EXPORT(SiluMulImpl);
HWY_EXPORT(AddInPlaceImpl);
HWY_EXPORT(ScaleInPlaceImpl);
HWY_EXPORT(SoftmaxInPlaceImpl);
HWY_EXPORT(DotF32Impl);

void RmsNorm(const float* x, const float* w, float eps, int64_t n,
             float* out) {
  HWY_DYNAMIC_DISPATCH(RmsNormImpl)(x, w, eps, n, out);
}

void RmsNormRows(float* x, int64_t rows, int64_t n, int64_t stride,
                 const float* w, float eps) {
  HWY_DYNAMIC_DISPATCH(RmsNormRowsImpl)(x, rows, n, stride, w, eps);
}

void Rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos,
          const RopeParams& p) {
  HWY_DYNAMIC_DISPATCH(RopeImpl)(x, n_heads, head_dim, pos, p);
}

void SiluMul(const float* gate, const float* up, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(SiluMulImpl)(gate, up, n, out);
}

void AddInPlace(float* x, const float* y, int64_t n) {
  HWY_DYNAMIC_DISPATCH(AddInPlaceImpl)(x, y, n);
}

void ScaleInPlace(float* x, float s, int64_t n) {
  HWY_DYNAMIC_DISPATCH(ScaleInPlaceImpl)(x, s, n);
}

void SoftmaxInPlace(float* x, int64_t n) {
  HWY_DYNAMIC_DISPATCH(SoftmaxInPlaceImpl)(x, n);
}

float DotF32(const float* a, const float* b, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotF32Impl)(a, b, n);
}

}  // namespace skv
#endif  // HWY_ONCE
