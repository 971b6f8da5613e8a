// A cap on Highway's runtime dispatch, for the whole process. CI reruns the
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

}  // namespace skv
