// Compile-time list of targets (for the error message) includes AVX3_DL, as
// in quant_dot.cc.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif
#include "simd/dispatch.h"

#include <cstdlib>

#include "hwy/targets.h"

namespace skv {

StatusOr<int64_t> SimdTargetByName(const std::string& name) {
  std::string known;
  // Target bits are powers of two; a better target has a lower bit.
  for (int bit = 0; bit < 63; ++bit) {
    const int64_t target = int64_t{1} << bit;
    const std::string t = hwy::TargetName(target);
    if (t == "Unknown") continue;
    if (t == name) return target;
    if ((target & HWY_TARGETS) != 0) known += (known.empty() ? "" : ", ") + t;
  }
  return Status::Error("unknown SIMD target '" + name + "' (this build has: " +
                       known + ")");
}

Status CapSimdTargets(const std::string& name, const std::string& source) {
  StatusOr<int64_t> target = SimdTargetByName(name);
  if (!target.ok()) return target.status().Annotate(source);
  // Every bit below the cap's bit is a better target.
  hwy::DisableTargets(*target - 1);
  return Status::Ok();
}

Status CapSimdTargetsFromEnv() {
  const char* v = std::getenv(kSimdMaxEnv);
  if (v == nullptr || *v == '\0') return Status::Ok();
  return CapSimdTargets(v, kSimdMaxEnv);
}

const char* GemmTypeName(GemmType type) {
  switch (type) {
    case GemmType::kBF16: return "bf16";
    case GemmType::kInt8: return "int8";
    default: return "f32";
  }
}

StatusOr<GemmType> GemmTypeByName(const std::string& name) {
  if (name == "f32") return GemmType::kF32;
  if (name == "bf16") return GemmType::kBF16;
  if (name == "int8") return GemmType::kInt8;
  return Status::Error("unknown GEMM type '" + name +
                       "' (expected int8, f32 or bf16)");
}

StatusOr<std::optional<GemmType>> GemmTypeFromEnv() {
  const char* v = std::getenv(kGemmEnv);
  if (v == nullptr || *v == '\0') return std::optional<GemmType>();
  StatusOr<GemmType> type = GemmTypeByName(v);
  if (!type.ok()) return type.status().Annotate(kGemmEnv);
  return std::optional<GemmType>(*type);
}

}  // namespace skv
