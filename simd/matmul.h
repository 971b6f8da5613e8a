// Y = X * W^T for a weight matrix stored in any computable GGML format.
// Small batches (decode) use the quantised GEMV kernels, which read each
// weight byte once: integer dot products on 8-bit activations where the type
// has them (quant_dot.h), f32 FMAs otherwise. Larger batches (prefill) use
// the integer GEMM (quant_gemm.h) for quantised types that have one,
// and otherwise dequantise row panels of W and hand them to oneDNN
// (onednn_gemm.h): into f32 for sgemm, or into bf16 for its matmul primitive
// (GemmType, see dispatch.h for the choice and its STRUCTKV_GEMM override).
#pragma once

#include <cstdint>

#include "simd/dispatch.h"
#include "simd/ggml_types.h"

namespace skv {

struct MatrixRef {
  const void* data = nullptr;  // [rows][row_bytes]
  GgmlType type = GgmlType::kF32;
  int64_t rows = 0;   // output features
  int64_t cols = 0;   // input features
  int64_t row_bytes = 0;
};

// x: [T][w.cols] (row stride x_stride), y: [T][w.rows] (row stride y_stride).
// Prefill batches use PrefillGemm().
void MatMul(const MatrixRef& w, const float* x, int64_t x_stride, int64_t T,
            float* y, int64_t y_stride);

// The same with the prefill GEMM named (tests and benchmarks compare them).
// bf16 applies to prefill batches of 16-bit and quantised weights: F32
// weights keep the f32 GEMM (whoever stored f32 asked for its precision),
// and so does any shape oneDNN has no bf16 matmul for on this CPU.
void MatMul(const MatrixRef& w, const float* x, int64_t x_stride, int64_t T,
            float* y, int64_t y_stride, GemmType gemm);

// The prefill GEMM of this process, decided on first use: int8 (integer dot
// products on 8-bit activations for the quantised types that have a kernel,
// quant_gemm.h; f32 for all other types) on every CPU, so that AVX-512,
// AVX2 and older CPUs compute the same bits; STRUCTKV_GEMM=f32|int8|bf16
// overrides. int8 multiplies the same values llama.cpp's CPU backend does
// and runs faster than dequantise + sgemm wherever its panel kernels exist
// (AVX2 and better; docs/benchmarks.md). bf16 needs native bf16 dot
// products (HasNativeBF16 in onednn_gemm.h; emulated bf16 is slower than
// f32).
// bf16 is opt-in because it loses on both counts measured so far: on an
// AVX512-BF16 core without AMX, vdpbf16ps sustains half the f32 FMA rate
// (oneDNN bf16 matmul ~55 GFLOP/s per core vs sgemm ~90), and rounding both
// operands to 8 significant bits moves the random-weight fixtures outside
// the llama.cpp agreement gates (top-1 0.90 / 0.85 < 0.93 on llama /
// llama-yarn; tests/CMakeLists.txt). A bad STRUCTKV_GEMM is reported once on
// stderr and f32 used (library code never exits); a tool that must refuse
// it checks GemmTypeFromEnv() first, and simd's DispatchTest fails on it so
// CI cannot run with a typo.
GemmType PrefillGemm();

}  // namespace skv
