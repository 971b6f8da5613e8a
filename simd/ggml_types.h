// GGML tensor element types as numbered in GGUF files, with their block
// geometry. Shared by the GGUF reader (models/) and the kernels (simd/).
#pragma once

#include <cstdint>
#include <string>

namespace skv {

enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
};

struct GgmlTypeTraits {
  GgmlType type;
  const char* name;     // as ggml spells it: "q4_K", "f16", ...
  int64_t block_size;   // elements per block (1 for plain types)
  int64_t type_size;    // bytes per block
  bool can_compute;     // dequantisation and dot kernels exist
};

// nullptr when the number is not a known GGML type.
const GgmlTypeTraits* FindGgmlType(uint32_t type);
const GgmlTypeTraits& GetGgmlType(GgmlType type);  // aborts on unknown
inline const char* GgmlTypeName(GgmlType type) { return GetGgmlType(type).name; }

// Bytes of a row of n elements; n must be a multiple of the block size.
int64_t GgmlRowBytes(GgmlType type, int64_t n);

// Comma-separated names of the types with compute kernels (for errors).
std::string ComputableGgmlTypeNames();

}  // namespace skv
