// Scalar references for simd/ops.h (accumulating in double), and the YaRN
// helpers that both the kernel and the reference use.
#include <algorithm>
#include <cmath>
#include <vector>
#include <cstdint>
#include <limits>

#include "base/check.h"
#include "simd/ops.h"

namespace skv {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Pair index at which a rotation of n_rot turns over n_ctx_orig positions:
// solves n_ctx_orig = 2 pi n_rot base^(2 i / rot_dim) for i.
float YarnCorrDim(int64_t rot_dim, int64_t n_ctx_orig, float n_rot,
                  float base) {
  return static_cast<float>(
      static_cast<double>(rot_dim) *
      std::log(static_cast<double>(n_ctx_orig) / (n_rot * 2.0 * kPi)) /
      (2.0 * std::log(static_cast<double>(base))));
}

}  // namespace

void RopeYarnCorrDims(int64_t rot_dim, int64_t n_ctx_orig, float freq_base,
                      float beta_fast, float beta_slow, float dims[2]) {
  const float start =
      std::floor(YarnCorrDim(rot_dim, n_ctx_orig, beta_fast, freq_base));
  const float end =
      std::ceil(YarnCorrDim(rot_dim, n_ctx_orig, beta_slow, freq_base));
  dims[0] = std::max(0.f, start);
  dims[1] = std::min(static_cast<float>(rot_dim - 1), end);
}

float RopeYarnRamp(float low, float high, int64_t i) {
  const float y = (static_cast<float>(i) - low) / std::max(0.001f, high - low);
  return 1.f - std::min(1.f, std::max(0.f, y));
}

void RmsNormRef(const float* x, const float* w, float eps, int64_t n,
                float* out) {
  if (n <= 0) return;
  // ggml's rms_norm step by step: squares rounded to f32, summed in f64,
  // the mean and scale in f32, then (x * scale) * w in f32.
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const float sq = x[i] * x[i];
    sum += static_cast<double>(sq);
  }
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) {
    const float y = x[i] * scale;
    out[i] = w ? y * w[i] : y;
  }
}

void RopeCosSin(int64_t pos, const RopeParams& p, float* cos_out,
                float* sin_out) {
  // ggml's recurrence, kept in f32 on purpose: theta starts at pos and is
  // multiplied by base^(-2/rot) per pair, then cosf/sinf. Its rounding is
  // what llama.cpp's keys carry, and rounding Q and K to f16 afterwards turns
  // even ulp-level angle differences into visible logit differences.
  float corr[2] = {0.f, 0.f};
  float mscale = p.attn_factor;
  if (p.ext_factor != 0.f) {
    RopeYarnCorrDims(p.rot_dim, p.n_ctx_orig, p.freq_base, p.beta_fast,
                     p.beta_slow, corr);
    mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
  }
  const float theta_scale =
      std::pow(p.freq_base, -2.0f / static_cast<float>(p.rot_dim));
  float theta_base = static_cast<float>(pos);
  for (int64_t i = 0; i < p.rot_dim / 2; ++i) {
    const float ff = p.freq_factors != nullptr ? p.freq_factors[i] : 1.0f;
    const float extrap = theta_base / ff;
    const float interp = p.freq_scale * extrap;
    float theta = interp;
    if (p.ext_factor != 0.f) {
      const float ramp = RopeYarnRamp(corr[0], corr[1], i) * p.ext_factor;
      theta = interp * (1 - ramp) + extrap * ramp;
    }
    cos_out[i] = std::cos(theta) * mscale;
    sin_out[i] = std::sin(theta) * mscale;
    theta_base *= theta_scale;
  }
}

void RopeRef(float* x, int64_t n_heads, int64_t head_dim, int64_t pos,
             const RopeParams& p) {
  const int64_t rot = p.rot_dim;
  SKV_CHECK(rot >= 0 && rot % 2 == 0 && rot <= head_dim);
  const int64_t half = rot / 2;
  std::vector<float> cs(half), sn(half);  // [half]
  RopeCosSin(pos, p, cs.data(), sn.data());
  for (int64_t i = 0; i < half; ++i) {
    const double c = cs[i], s = sn[i];
    for (int64_t h = 0; h < n_heads; ++h) {
      float* xh = x + h * head_dim;
      const int64_t i0 = p.style == RopeParams::Style::kNeox ? i : 2 * i;
      const int64_t i1 = p.style == RopeParams::Style::kNeox ? i + half : 2 * i + 1;
      const double a = xh[i0], b = xh[i1];
      xh[i0] = static_cast<float>(a * c - b * s);
      xh[i1] = static_cast<float>(a * s + b * c);
    }
  }
}

void SiluMulRef(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    out[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[i]);
  }
}

void SoftmaxInPlaceRef(float* x, int64_t n) {
  if (n <= 0) return;
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(x[i]));
  if (std::isinf(mx) && mx < 0) {
    std::fill(x, x + n, 0.f);
    return;
  }
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(std::exp(x[i] - mx) / sum);
  }
}

}  // namespace skv
