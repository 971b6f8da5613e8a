// GeGLU as ggml computes it on CPUs (GGML_GELU_FP16): the gate is rounded to
// f16, gelu is looked up in a 64K-entry table of f16 results, and the result
// multiplies the up projection in f32. Matching this rounding keeps our FFN
// outputs identical to llama.cpp's, and the lookup is cheaper than tanh.
#include <cmath>
#include <vector>

#include "simd/ops.h"
#include "simd/quant.h"

namespace skv {
namespace {

constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
constexpr float kGeluCoefA = 0.044715f;

// gelu(x) in f32 with the tanh approximation, as ggml_gelu_f32 evaluates it.
float GeluF32(float x) {
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kGeluCoefA * x * x)));
}

// [65536] gelu of every f16 value, rounded to f16 and widened back to f32.
const std::vector<float>& GeluTable() {
  static const std::vector<float> table = [] {
    std::vector<float> t(1 << 16);
    for (uint32_t h = 0; h < t.size(); ++h) {
      const float x = F16BitsToF32(static_cast<uint16_t>(h));
      t[h] = F16BitsToF32(F32ToF16Bits(GeluF32(x)));
    }
    return t;
  }();
  return table;
}

}  // namespace

void GeluTanhMul(const float* gate, const float* up, int64_t n, float* out) {
  const float* table = GeluTable().data();
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    float y;
    if (g <= -10.f) {
      y = 0.f;
    } else if (g >= 10.f) {
      y = g * up[i];
    } else {
      y = table[F32ToF16Bits(g)] * up[i];
    }
    out[i] = y;
  }
}

void GeluTanhMulRef(const float* gate, const float* up, int64_t n, float* out) {
  const double k0 = std::sqrt(2.0 / 3.14159265358979323846);
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    if (g <= -10.0) {
      out[i] = 0.f;
    } else if (g >= 10.0) {
      out[i] = static_cast<float>(g * up[i]);
    } else {
      const double x = F16BitsToF32(F32ToF16Bits(gate[i]));
      const double gelu = 0.5 * x * (1.0 + std::tanh(k0 * (x + 0.044715 * x * x * x)));
      out[i] = F16BitsToF32(F32ToF16Bits(static_cast<float>(gelu))) * up[i];
    }
  }
}

}  // namespace skv
