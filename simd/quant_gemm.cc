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

#include "base/check.h"
#include "base/parallel.h"
#include "simd/activation_round.h"
#include "simd/quant.h"
#include "simd/quant_gemm.h"

#include "simd/quant_dot_x86-inl.h"
#include "simd/quant_gemm_x86-inl.h"

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

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace skv {

HWY_EXPORT(HasTiledImpl);
HWY_EXPORT(GemmRowsImpl);

bool HasIntegerGemm(GgmlType weight_type) {
  return HasIntegerDot(weight_type) && HWY_DYNAMIC_DISPATCH(HasTiledImpl)();
}

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
