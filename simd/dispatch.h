// Process-wide kernel choices made from the environment: a cap on Highway's
// runtime dispatch, and the prefill GEMM type.
//
// The cap on Highway's runtime dispatch, for the whole process. CI reruns the
// unit tests with AVX-512 disabled (tools/test.sh), and a benchmark can be
// taken on the AVX2 kernels of an AVX-512 machine:
//
//   STRUCTKV_SIMD_MAX=AVX2 ctest --test-dir build -L unit
//
// The variable names the best target allowed (a Highway target name such as
// AVX3_DL, AVX3, AVX2, SSE4, SSSE3); better targets are disabled. The simd
// library applies it once when it is loaded (quant.cc), so every binary that
// links the kernels, tests included, honours it without code in its main.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"

namespace skv {

inline constexpr const char kSimdMaxEnv[] = "STRUCTKV_SIMD_MAX";

// The Highway target bit named `name` (e.g. "AVX2"), or an error that lists
// the names this build knows.
StatusOr<int64_t> SimdTargetByName(const std::string& name);

// Disables every target better than `name`; idempotent. Errors name the
// value and where it came from (`source`, e.g. the environment variable).
Status CapSimdTargets(const std::string& name, const std::string& source);

// Applies STRUCTKV_SIMD_MAX if it is set (and non-empty). Returns its
// outcome; unset is Ok.
Status CapSimdTargetsFromEnv();

// The GEMM behind prefill (matmul.h): f32 dequantises weights to f32 for
// oneDNN's sgemm; bf16 uses oneDNN's matmul primitive on bf16
// operands (f32 accumulation); int8 multiplies 8-bit quantised activations
// with the quantised weight blocks in integer dot products (quant_gemm.h)
// where the weight type has a kernel, and uses f32 for every other type (the
// default on every CPU). STRUCTKV_GEMM overrides the default for the
// process (see PrefillGemm):
//
//   STRUCTKV_GEMM=f32 build/tools/structkv bench -m model.gguf -n 0
enum class GemmType { kF32, kBF16, kInt8 };

inline constexpr const char kGemmEnv[] = "STRUCTKV_GEMM";

const char* GemmTypeName(GemmType type);  // "f32", "bf16", "int8"

// "f32", "bf16" or "int8", or an error naming the value and the accepted
// names.
StatusOr<GemmType> GemmTypeByName(const std::string& name);

// STRUCTKV_GEMM's choice: nullopt where it is unset or empty, an error that
// names the variable for any other value than f32, bf16 or int8.
StatusOr<std::optional<GemmType>> GemmTypeFromEnv();

}  // namespace skv
