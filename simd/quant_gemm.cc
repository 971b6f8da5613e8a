// Integer prefill GEMM (quant_gemm.h). The per-target kernels live in
// quant_gemm_vnni-inl.h (AVX-512 with VNNI: 16-row panels) and
// quant_gemm_avx2-inl.h (AVX2 and AVX-512 without VNNI: 8-row panels), both
// on the repacked panels of quant_gemm_panel-inl.h; this file compiles them
// for every Highway target and splits the work: panels of rows across
// threads, all tokens of the call per panel. Targets without either family
// (SSE4 and below) run MatVecQ8 per token, which computes the same bits.
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
#include "simd/quant_gemm_panel-inl.h"
#include "simd/quant_gemm_vnni-inl.h"
#include "simd/quant_gemm_avx2-inl.h"

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {

// Rows per panel of this target's panel kernels; 0 where it has none.
int PanelRowsImpl() {
#if SKV_QUANT_GEMM_VNNI
  return vnni::kPanelRows;
#elif SKV_QUANT_GEMM_AVX2
  return avx2::kPanelRows;
#else
  return 0;
#endif
}

#if SKV_QUANT_GEMM_VNNI
using PanelKernels = vnni::Kernels;
#elif SKV_QUANT_GEMM_AVX2
using PanelKernels = avx2::Kernels;
#endif

// Panels [g0, g1) of PanelRowsImpl() rows for all T tokens; bias32 as in
// panel::GemmPanels (32-block types only).
void GemmPanelsImpl(GgmlType type, const void* w, int64_t row_bytes,
                    const QuantizedActivations* x, int64_t T,
                    const int32_t* bias32, float* y, int64_t y_stride,
                    int64_t rows, int64_t g0, int64_t g1) {
#if SKV_QUANT_GEMM_VNNI || SKV_QUANT_GEMM_AVX2
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  switch (type) {
    case GgmlType::kQ8_0: return panel::GemmPanels<PanelKernels, GgmlType::kQ8_0>(wb, row_bytes, x, T, bias32, y, y_stride, rows, g0, g1);
    case GgmlType::kQ4_0: return panel::GemmPanels<PanelKernels, GgmlType::kQ4_0>(wb, row_bytes, x, T, bias32, y, y_stride, rows, g0, g1);
    case GgmlType::kQ5_0: return panel::GemmPanels<PanelKernels, GgmlType::kQ5_0>(wb, row_bytes, x, T, bias32, y, y_stride, rows, g0, g1);
    case GgmlType::kQ4_K: return panel::GemmPanels<PanelKernels, GgmlType::kQ4_K>(wb, row_bytes, x, T, bias32, y, y_stride, rows, g0, g1);
    case GgmlType::kQ5_K: return panel::GemmPanels<PanelKernels, GgmlType::kQ5_K>(wb, row_bytes, x, T, bias32, y, y_stride, rows, g0, g1);
    case GgmlType::kQ6_K: return panel::GemmPanels<PanelKernels, GgmlType::kQ6_K>(wb, row_bytes, x, T, bias32, y, y_stride, rows, g0, g1);
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

HWY_EXPORT(PanelRowsImpl);
HWY_EXPORT(GemmPanelsImpl);

bool HasIntegerGemm(GgmlType weight_type) { return HasIntegerDot(weight_type); }

void MatMulQ8(GgmlType weight_type, const void* w, int64_t row_bytes,
              const QuantizedActivations* x, int64_t T, float* y,
              int64_t y_stride, int64_t rows) {
  SKV_CHECK(T >= 0 && rows >= 0 && (T <= 1 || y_stride >= rows));
  if (T == 0 || rows == 0) return;
  const int panel_rows = HWY_DYNAMIC_DISPATCH(PanelRowsImpl)();
  if (panel_rows == 0) {
    // Row ranges of ~64 KiB stay in cache while every token passes them.
    const int64_t grain =
        std::max<int64_t>(1, (64 << 10) / std::max<int64_t>(row_bytes, 1));
    ParallelRanges(rows, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t t = 0; t < T; ++t) {
        MatVecQ8Rows(weight_type, w, row_bytes, x[t], y + t * y_stride, r0, r1);
      }
    });
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
  // Panels are split over outputs only: each output comes from one panel
  // and one thread, whatever the thread count.
  const int64_t groups = (rows + panel_rows - 1) / panel_rows;
  ParallelRanges(groups, 1, [&](int64_t g0, int64_t g1) {
    HWY_DYNAMIC_DISPATCH(GemmPanelsImpl)(weight_type, w, row_bytes, x, T,
                                         bias32.data(), y, y_stride, rows, g0, g1);
  });
}

}  // namespace skv
#endif  // HWY_ONCE
