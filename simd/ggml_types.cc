// The GGML type table: block geometry as ggml defines it (ggml-common.h), so
// that GGUF tensor sizes computed here match the files byte for byte.
#include "simd/ggml_types.h"

#include <cstdio>
#include <cstdlib>

#include "base/check.h"

namespace skv {
namespace {

// Block sizes and byte sizes per block. Comments spell out the block layout so
// the numbers can be checked by eye.
constexpr GgmlTypeTraits kTypes[] = {
    {GgmlType::kF32, "f32", 1, 4, true},
    {GgmlType::kF16, "f16", 1, 2, true},
    // d(f16) + 16 bytes of nibbles
    {GgmlType::kQ4_0, "q4_0", 32, 18, true},
    // d(f16) + m(f16) + 16 bytes of nibbles
    {GgmlType::kQ4_1, "q4_1", 32, 20, true},
    // d(f16) + qh[4] + 16 bytes of nibbles
    {GgmlType::kQ5_0, "q5_0", 32, 22, true},
    // d(f16) + m(f16) + qh[4] + 16 bytes of nibbles
    {GgmlType::kQ5_1, "q5_1", 32, 24, true},
    // d(f16) + 32 int8
    {GgmlType::kQ8_0, "q8_0", 32, 34, true},
    // d(f16) + s(f16) + 32 int8 (an activation format; no kernels here)
    {GgmlType::kQ8_1, "q8_1", 32, 36, false},
    // scales[16] + qs[64] + d(f16) + dmin(f16)
    {GgmlType::kQ2_K, "q2_K", 256, 84, true},
    // hmask[32] + qs[64] + scales[12] + d(f16)
    {GgmlType::kQ3_K, "q3_K", 256, 110, true},
    // d(f16) + dmin(f16) + scales[12] + qs[128]
    {GgmlType::kQ4_K, "q4_K", 256, 144, true},
    // d(f16) + dmin(f16) + scales[12] + qh[32] + qs[128]
    {GgmlType::kQ5_K, "q5_K", 256, 176, true},
    // ql[128] + qh[64] + scales[16] (int8) + d(f16)
    {GgmlType::kQ6_K, "q6_K", 256, 210, true},
    // d(f32) + qs[256] int8 + bsums[16] int16 (activation format)
    {GgmlType::kQ8_K, "q8_K", 256, 292, false},
    {GgmlType::kI8, "i8", 1, 1, false},
    {GgmlType::kI16, "i16", 1, 2, false},
    {GgmlType::kI32, "i32", 1, 4, false},
    {GgmlType::kI64, "i64", 1, 8, false},
    {GgmlType::kF64, "f64", 1, 8, false},
    {GgmlType::kBF16, "bf16", 1, 2, true},
};

}  // namespace

const GgmlTypeTraits* FindGgmlType(uint32_t type) {
  for (const GgmlTypeTraits& t : kTypes) {
    if (static_cast<uint32_t>(t.type) == type) return &t;
  }
  return nullptr;
}

const GgmlTypeTraits& GetGgmlType(GgmlType type) {
  const GgmlTypeTraits* t = FindGgmlType(static_cast<uint32_t>(type));
  if (t == nullptr) {
    std::fprintf(stderr, "unknown GGML type %u\n", static_cast<unsigned>(type));
  }
  SKV_CHECK(t != nullptr);
  return *t;
}

int64_t GgmlRowBytes(GgmlType type, int64_t n) {
  const GgmlTypeTraits& t = GetGgmlType(type);
  SKV_CHECK(n >= 0 && n % t.block_size == 0);
  return n / t.block_size * t.type_size;
}

std::string ComputableGgmlTypeNames() {
  std::string names;
  for (const GgmlTypeTraits& t : kTypes) {
    if (!t.can_compute) continue;
    if (!names.empty()) names += ", ";
    names += t.name;
  }
  return names;
}

}  // namespace skv
