// The oneDNN GEMMs behind prefill (matmul.cc), row-major throughout:
//
//   y[T][N] = x[T][K] * w[N][K]^T      (x, w, y rows `*_ld` elements apart)
//
// f32 runs on dnnl_sgemm. bf16 (operands rounded to bfloat16, f32
// accumulation and output) runs on oneDNN's matmul primitive; the weights are
// handed over as our row-major [N][K] panel read as its transpose [K][N]
// (strides {1, w_ld}), so no copy is made on our side. Both use oneDNN's
// OpenMP runtime, the same thread pool as base/parallel.h.
#pragma once

#include <cstdint>

namespace skv {

void GemmF32(const float* x, int64_t x_ld, int64_t T, const float* w,
             int64_t w_ld, int64_t N, int64_t K, float* y, int64_t y_ld);

// One bf16 GEMM shape; a primitive is made per shape (oneDNN specialises its
// kernels to the sizes and strides).
struct GemmBF16Shape {
  int64_t T = 0, N = 0, K = 0;
  int64_t x_ld = 0, w_ld = 0, y_ld = 0;
  bool operator==(const GemmBF16Shape&) const = default;
};

// Whether oneDNN has a bf16 matmul for `shape` on this CPU (creating and
// caching its primitive). False on CPUs without AVX-512 (oneDNN 2.6 has no
// bf16 matmul there); callers then use GemmF32.
bool CanGemmBF16(const GemmBF16Shape& shape);

// x: [T][K] bf16 bits, w: [N][K] bf16 bits, y: [T][N] f32. The shape must
// have passed CanGemmBF16.
void GemmBF16(const GemmBF16Shape& shape, const uint16_t* x, const uint16_t* w,
              float* y);

// Whether oneDNN runs bf16 on native dot-product instructions here
// (AVX512-BF16 or AMX) rather than by emulation on plain AVX-512, which is
// slower than its f32 GEMM.
bool HasNativeBF16();

}  // namespace skv
