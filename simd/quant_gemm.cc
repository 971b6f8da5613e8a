// Tiled integer GEMM (quant_gemm.h). The per-target kernels live in
// quant_gemm_x86-inl.h (AVX2 and better); this file compiles them for every
// Highway target, dispatches once per row range, and splits the work:
// tokens in chunks whose activations stay in L2, and within a chunk row
// ranges across threads.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL  // compile the VNNI target, as quant_dot.cc does
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/quant_gemm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "base/check.h"
#include "base/parallel.h"
#include "simd/activation_round.h"
#include "simd/quant.h"
#include "simd/quant_gemm.h"

#include "simd/quant_dot_x86-inl.h"
#include "simd/quant_gemm_x86-inl.h"
#include "simd/quant_gemm_vnni-inl.h"

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {

// Whether this target has the tiled kernels (MatMulQ8 otherwise runs
// MatVecQ8 per token).
bool HasTiledImpl() { return SKV_QUANT_DOT_X86 != 0; }

// Rows [r0, r1) of y for tokens [t0, t1).
void GemmRowsImpl(GgmlType type, const void* w, int64_t row_bytes,
                  const QuantizedActivations* x, int64_t t0, int64_t t1,
                  float* y, int64_t y_stride, int64_t r0, int64_t r1) {
#if SKV_QUANT_DOT_X86
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  const int64_t ts = GetGgmlType(type).type_size;
  switch (type) {
    case GgmlType::kQ8_0: return x86::GemmRows<x86::G8_0, false>(wb, row_bytes, ts, x, t0, t1, y, y_stride, r0, r1);
    case GgmlType::kQ4_0: return x86::GemmRows<x86::G4_0, false>(wb, row_bytes, ts, x, t0, t1, y, y_stride, r0, r1);
    case GgmlType::kQ5_0: return x86::GemmRows<x86::G5_0, false>(wb, row_bytes, ts, x, t0, t1, y, y_stride, r0, r1);
    case GgmlType::kQ4_K: return x86::GemmRows<x86::G45_K<false>, true>(wb, row_bytes, ts, x, t0, t1, y, y_stride, r0, r1);
    case GgmlType::kQ5_K: return x86::GemmRows<x86::G45_K<true>, true>(wb, row_bytes, ts, x, t0, t1, y, y_stride, r0, r1);
    case GgmlType::kQ6_K: return x86::GemmRows<x86::G6_K, true>(wb, row_bytes, ts, x, t0, t1, y, y_stride, r0, r1);
    default: break;
  }
#else
  (void)w, (void)row_bytes, (void)x, (void)t0, (void)t1, (void)y;
  (void)y_stride, (void)r0, (void)r1;
#endif
  SKV_CHECK(false && "GemmRowsImpl: no tiled kernel for this type/target");
}

// Whether this target has the repacked-panel kernels (quant_gemm_vnni-inl.h).
bool HasPanelImpl() { return SKV_QUANT_GEMM_VNNI != 0; }

// Panels [g0, g1) of 16 rows for all T tokens; bias32 as in
// vnni::Kernel32 (32-block types only).
void GemmPanelsImpl(GgmlType type, const void* w, int64_t row_bytes,
                    const QuantizedActivations* x, int64_t T,
                    const int32_t* bias32, float* y, int64_t y_stride,
                    int64_t rows, int64_t g0, int64_t g1) {
#if SKV_QUANT_GEMM_VNNI
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  switch (type) {
    case GgmlType::kQ8_0: return vnni::GemmPanels<GgmlType::kQ8_0>(wb, row_bytes, x, T, bias32, y, y_stride, rows, g0, g1);
    case GgmlType::kQ4_0: return vnni::GemmPanels<GgmlType::kQ4_0>(wb, row_bytes, x, T, bias32, y, y_stride, rows, g0, g1);
    case GgmlType::kQ5_0: return vnni::GemmPanels<GgmlType::kQ5_0>(wb, row_bytes, x, T, bias32, y, y_stride, rows, g0, g1);
    case GgmlType::kQ4_K: return vnni::GemmPanels<GgmlType::kQ4_K>(wb, row_bytes, x, T, bias32, y, y_stride, rows, g0, g1);
    case GgmlType::kQ5_K: return vnni::GemmPanels<GgmlType::kQ5_K>(wb, row_bytes, x, T, bias32, y, y_stride, rows, g0, g1);
    case GgmlType::kQ6_K: return vnni::GemmPanels<GgmlType::kQ6_K>(wb, row_bytes, x, T, bias32, y, y_stride, rows, g0, g1);
    default: break;
  }
#else
  (void)w, (void)row_bytes, (void)x, (void)T, (void)bias32, (void)y;
  (void)y_stride, (void)rows, (void)g0, (void)g1;
#endif
  SKV_CHECK(false && "GemmPanelsImpl: no panel kernel for this type/target");
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace skv {

HWY_EXPORT(HasTiledImpl);
HWY_EXPORT(GemmRowsImpl);
HWY_EXPORT(HasPanelImpl);
HWY_EXPORT(GemmPanelsImpl);

bool HasIntegerGemm(GgmlType weight_type) {
  return HasIntegerDot(weight_type) && HWY_DYNAMIC_DISPATCH(HasTiledImpl)();
}

bool HasFastIntegerGemm() { return HWY_DYNAMIC_DISPATCH(HasPanelImpl)(); }

void MatMulQ8(GgmlType weight_type, const void* w, int64_t row_bytes,
              const QuantizedActivations* x, int64_t T, float* y,
              int64_t y_stride, int64_t rows) {
  SKV_CHECK(T >= 0 && rows >= 0 && (T <= 1 || y_stride >= rows));
  if (T == 0 || rows == 0) return;
  if (!HasIntegerGemm(weight_type)) {
    for (int64_t t = 0; t < T; ++t) {
      MatVecQ8(weight_type, w, row_bytes, x[t], y + t * y_stride, rows);
    }
    return;
  }
  const int64_t n = x[0].n;
  SKV_CHECK(HasIntegerDot(weight_type));
  SKV_CHECK(n % GetGgmlType(weight_type).block_size == 0);
  SKV_CHECK(row_bytes >= GgmlRowBytes(weight_type, n));
  for (int64_t t = 0; t < T; ++t) {
    SKV_CHECK(x[t].type == ActivationType(weight_type) && x[t].n == n &&
              x[t].finite);
  }
  if (HasFastIntegerGemm()) {
    // -offset * (sum of each block's 32 activation codes), from bias4.
    std::vector<int32_t> bias32;  // [T][n / 32], 32-block types only
    if (GetGgmlType(weight_type).block_size == 32) {
      const int64_t nb = n / 32;
      bias32.resize(T * nb);
      for (int64_t t = 0; t < T; ++t) {
        const int32_t* b4 = x[t].bias4.data();
        for (int64_t b = 0; b < nb; ++b) {
          int32_t s = 0;
          for (int i = 0; i < 8; ++i) s += b4[8 * b + i];
          bias32[t * nb + b] = s;
        }
      }
    }
    const int64_t groups = (rows + 15) / 16;
    ParallelRanges(groups, 1, [&](int64_t g0, int64_t g1) {
      HWY_DYNAMIC_DISPATCH(GemmPanelsImpl)(weight_type, w, row_bytes, x, T,
                                           bias32.data(), y, y_stride, rows,
                                           g0, g1);
    });
    return;
  }
  // Token chunks: a chunk's activations (int8 codes plus Q8_0's bias4 or
  // Q8_K's bsums, about 2 bytes per element) stay in each core's L2 while
  // every row tile streams past them, so weights are read from memory
  // T / chunk times. Multiples of the tile's 4 tokens.
  constexpr int64_t kChunkBytes = 512 << 10;
  const int64_t chunk =
      std::clamp<int64_t>((kChunkBytes / (2 * n)) / 4 * 4, 4, 256);
  // Row ranges of two-row tiles; a few thousand multiply-adds per range
  // amortise the scheduling.
  const int64_t pairs = (rows + 1) / 2;
  for (int64_t t0 = 0; t0 < T; t0 += chunk) {
    const int64_t t1 = std::min(T, t0 + chunk);
    ParallelRanges(pairs, 4, [&](int64_t p0, int64_t p1) {
      HWY_DYNAMIC_DISPATCH(GemmRowsImpl)(weight_type, w, row_bytes, x, t0, t1,
                                         y, y_stride, 2 * p0,
                                         std::min(rows, 2 * p1));
    });
  }
}

}  // namespace skv
#endif  // HWY_ONCE
