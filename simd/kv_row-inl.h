// Per-target conversion of one cached K or V row (KvView::type: f16, bf16
// or q8_0, the formats StoreKvRow in attention.h writes) to f32, included by
// attention.cc once per Highway target.

// Per-target include guard (Highway's toggle idiom).
#if defined(SKV_SIMD_KV_ROW_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef SKV_SIMD_KV_ROW_INL_H_
#undef SKV_SIMD_KV_ROW_INL_H_
#else
#define SKV_SIMD_KV_ROW_INL_H_
#endif

#include <cstdint>
#include <cstring>

#include "hwy/highway.h"
#include "simd/ggml_types.h"
#include "simd/quant.h"

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {
namespace kv_row {
namespace hn = hwy::HWY_NAMESPACE;
using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
using DH = hn::Rebind<hwy::float16_t, DF>;
constexpr int64_t kMaxLanes = 64;

// dst[0, D) = f32(src[0, D)); dst[D, Dp) = 0. src: one f16 row.
HWY_INLINE void PromoteRowF16(const uint16_t* src, int64_t D, int64_t Dp,
                              float* dst) {
  const DF d;
  const DH dh;
  const int64_t N = hn::Lanes(d);
  const hwy::float16_t* s = reinterpret_cast<const hwy::float16_t*>(src);
  int64_t k = 0;
  for (; k + N <= D; k += N) {
    hn::StoreU(hn::PromoteTo(d, hn::LoadU(dh, s + k)), d, dst + k);
  }
  if (k < D) {
    HWY_ALIGN hwy::float16_t buf[kMaxLanes] = {};
    HWY_ALIGN float out[kMaxLanes];
    std::memcpy(buf, s + k, static_cast<size_t>(D - k) * sizeof(uint16_t));
    hn::Store(hn::PromoteTo(d, hn::Load(dh, buf)), d, out);
    std::memcpy(dst + k, out, static_cast<size_t>(D - k) * sizeof(float));
  }
  for (int64_t z = D; z < Dp; ++z) dst[z] = 0.f;
}

// The same for one bf16 row: bf16 is the high half of an f32.
HWY_INLINE void PromoteRowBF16(const uint16_t* src, int64_t D, int64_t Dp,
                               float* dst) {
  const DF d;
  const hn::RebindToUnsigned<DF> du32;
  const hn::Rebind<uint16_t, DF> du16;
  const int64_t N = hn::Lanes(d);
  int64_t k = 0;
  for (; k + N <= D; k += N) {
    const auto wide = hn::PromoteTo(du32, hn::LoadU(du16, src + k));
    hn::StoreU(hn::BitCast(d, hn::ShiftLeft<16>(wide)), d, dst + k);
  }
  for (; k < D; ++k) {
    const uint32_t bits = static_cast<uint32_t>(src[k]) << 16;
    std::memcpy(dst + k, &bits, sizeof(float));
  }
  for (int64_t z = D; z < Dp; ++z) dst[z] = 0.f;
}

// The same for one q8_0 row: D / 32 blocks of an f16 scale and 32 int8.
HWY_INLINE void PromoteRowQ8_0(const uint16_t* src, int64_t D, int64_t Dp,
                               float* dst) {
  const DF d;
  const hn::Rebind<int8_t, DF> d8;
  const hn::RebindToSigned<DF> di;
  const int64_t N = hn::Lanes(d);
  const uint8_t* b = reinterpret_cast<const uint8_t*>(src);
  for (int64_t blk = 0; blk < D / 32; ++blk, b += 34) {
    uint16_t bits;
    std::memcpy(&bits, b, 2);
    const float scale = F16BitsToF32(bits);
    const int8_t* q = reinterpret_cast<const int8_t*>(b + 2);
    float* out = dst + blk * 32;
    if (32 % N == 0) {
      const VF vs = hn::Set(d, scale);
      for (int64_t k = 0; k < 32; k += N) {
        const VF v = hn::ConvertTo(d, hn::PromoteTo(di, hn::LoadU(d8, q + k)));
        hn::StoreU(hn::Mul(v, vs), d, out + k);
      }
    } else {
      for (int64_t k = 0; k < 32; ++k) out[k] = scale * static_cast<float>(q[k]);
    }
  }
  for (int64_t z = D; z < Dp; ++z) dst[z] = 0.f;
}

// One cached K or V row (KvView::type) in f32, zero-padded to Dp.
HWY_INLINE void PromoteKvRow(GgmlType type, const uint16_t* src, int64_t D,
                             int64_t Dp, float* dst) {
  switch (type) {
    case GgmlType::kBF16: return PromoteRowBF16(src, D, Dp, dst);
    case GgmlType::kQ8_0: return PromoteRowQ8_0(src, D, Dp, dst);
    default: return PromoteRowF16(src, D, Dp, dst);
  }
}

}  // namespace kv_row
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#endif  // SKV_SIMD_KV_ROW_INL_H_ toggle
