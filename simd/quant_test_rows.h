// Test helper shared by the integer-dot tests (quant_dot_test.cc,
// quant_gemm_test.cc): the weight types with integer kernels and random
// weight rows in those formats.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "simd/ggml_types.h"
#include "simd/quant.h"

namespace skv {

inline constexpr GgmlType kIntTypes[] = {GgmlType::kQ4_0, GgmlType::kQ5_0,
                              GgmlType::kQ8_0, GgmlType::kQ4_K,
                              GgmlType::kQ5_K, GgmlType::kQ6_K};

// Random blocks with finite fp16 scales in a sane range; every other byte is
// random so all code paths (high bits, scales, mins) are exercised.
inline std::vector<uint8_t> RandomRows(GgmlType type, int64_t rows, int64_t n,
                                std::mt19937& rng) {
  const GgmlTypeTraits& t = GetGgmlType(type);
  std::vector<uint8_t> w(static_cast<size_t>(rows * GgmlRowBytes(type, n)));  // [rows][row_bytes]
  for (uint8_t& b : w) b = static_cast<uint8_t>(rng());
  std::vector<int> offsets;  // byte offsets of the fp16 fields in a block
  switch (type) {
    case GgmlType::kQ4_K: case GgmlType::kQ5_K: offsets = {0, 2}; break;
    case GgmlType::kQ6_K: offsets = {208}; break;
    default: offsets = {0}; break;
  }
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  for (size_t off = 0; off < w.size(); off += t.type_size) {
    for (int o : offsets) {
      const uint16_t h = F32ToF16Bits(u(rng));
      std::memcpy(&w[off + o], &h, 2);
    }
  }
  return w;
}

}  // namespace skv
