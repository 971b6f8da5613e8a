// Elementwise and row kernels of the transformer forward pass. Each has a
// scalar reference in simd/ops_ref.cc used by the tests; the public versions
// dispatch once per call to the best Highway target.
#pragma once

#include <cstdint>

namespace skv {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * (w ? w[i] : 1); out may alias x.
void RmsNorm(const float* x, const float* w, float eps, int64_t n, float* out);
void RmsNormRef(const float* x, const float* w, float eps, int64_t n, float* out);

// Applies RmsNorm to `rows` rows of n elements spaced `stride` floats apart,
// in place (used for per-head QK-norm and for token batches).
void RmsNormRows(float* x, int64_t rows, int64_t n, int64_t stride,
                 const float* w, float eps);

// Rotary position embedding parameters (llama.cpp semantics).
struct RopeParams {
  enum class Style { kNorm, kNeox };  // kNorm: adjacent pairs; kNeox: halves
  Style style = Style::kNorm;
  int64_t rot_dim = 0;        // rotated dims per head (<= head_dim, even)
  float freq_base = 10000.f;  // theta
  float freq_scale = 1.f;     // 1 / linear scaling factor
  const float* freq_factors = nullptr;  // [rot_dim/2] divisors (llama3), optional
  // YaRN: ext_factor 0 disables it.
  float ext_factor = 0.f;
  float attn_factor = 1.f;
  float beta_fast = 32.f;
  float beta_slow = 1.f;
  int64_t n_ctx_orig = 0;
};

// YaRN helpers, as in ggml: the [start, end] pair indices between which the
// rotation blends from extrapolation to interpolation (from beta_fast and
// beta_slow rotations over n_ctx_orig), and the blend weight of pair i
// (1 = pure extrapolation, 0 = pure interpolation).
void RopeYarnCorrDims(int64_t rot_dim, int64_t n_ctx_orig, float freq_base,
                      float beta_fast, float beta_slow, float dims[2]);
float RopeYarnRamp(float low, float high, int64_t i);

// cos/sin [rot_dim/2] of the rotary pairs at `pos` (times the magnitude
// scale), computed exactly as ggml does (an f32 recurrence, cosf/sinf) so
// that keys match llama.cpp's; shared by Rope and RopeRef.
void RopeCosSin(int64_t pos, const RopeParams& p, float* cos_out,
                float* sin_out);

// Rotates `n_heads` heads of `head_dim` floats (contiguous) at position pos.
// Pair i turns by theta_i = pos * freq_base^(-2i/rot_dim) (/ freq_factors[i])
// * freq_scale (YaRN-blended when ext_factor != 0), and cos/sin are scaled by
// attn_factor (times 1 + 0.1 ln(1/freq_scale) under YaRN). Angles are formed
// in double, so long positions keep their accuracy (llama.cpp accumulates
// them in f32). Dims past rot_dim are untouched.
void Rope(float* x, int64_t n_heads, int64_t head_dim, int64_t pos,
          const RopeParams& p);
void RopeRef(float* x, int64_t n_heads, int64_t head_dim, int64_t pos,
             const RopeParams& p);

// GeGLU with ggml's numerics (simd/gelu.cc): out[i] = gelu_tanh(gate[i]) *
// up[i], where gelu is read from a table over f16 inputs and stored in f16
// (GGML_GELU_FP16), 0 for gate <= -10 and gate for gate >= 10, so our FFN
// outputs match llama.cpp's. out may alias gate or up.
void GeluTanhMul(const float* gate, const float* up, int64_t n, float* out);
// Reference: the same definition computed in double without the table.
void GeluTanhMulRef(const float* gate, const float* up, int64_t n, float* out);
// out[i] = silu(gate[i]) * up[i]  (SwiGLU); out may alias gate or up.
void SiluMul(const float* gate, const float* up, int64_t n, float* out);
void SiluMulRef(const float* gate, const float* up, int64_t n, float* out);

// x[i] += y[i]
void AddInPlace(float* x, const float* y, int64_t n);
// x[i] *= s
void ScaleInPlace(float* x, float s, int64_t n);
// Numerically stable softmax in place; a row that is all -inf becomes zeros.
void SoftmaxInPlace(float* x, int64_t n);
void SoftmaxInPlaceRef(float* x, int64_t n);
// sum_i a[i] * b[i]
float DotF32(const float* a, const float* b, int64_t n);

}  // namespace skv
