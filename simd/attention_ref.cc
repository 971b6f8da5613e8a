// Two-pass scalar reference for simd/attention.h: explicit scores, softmax
// and weighted sum, accumulated in double. Slow by design; tests only.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "base/check.h"
#include "simd/attention.h"
#include "simd/quant.h"

namespace skv {

namespace {

// IEEE half bits -> float, written out independently of Highway.
double HalfToDouble(uint16_t h) {
  const int sign = (h >> 15) & 1;
  const int exp = (h >> 10) & 0x1f;
  const int mant = h & 0x3ff;
  double v;
  if (exp == 0) {
    v = std::ldexp(static_cast<double>(mant), -24);  // subnormal
  } else if (exp == 31) {
    v = mant ? std::numeric_limits<double>::quiet_NaN()
             : std::numeric_limits<double>::infinity();
  } else {
    v = std::ldexp(static_cast<double>(mant | 0x400), exp - 25);
  }
  return sign ? -v : v;
}

// All 65536 halves, decoded once: the reference stays simple but not slow.
const std::vector<double>& HalfTable() {
  static const std::vector<double> table = [] {
    std::vector<double> t(65536);
    for (uint32_t h = 0; h < 65536; ++h) t[h] = HalfToDouble(static_cast<uint16_t>(h));
    return t;
  }();
  return table;
}

// One cached row of D elements decoded independently of the kernel: f16
// through the table, bf16 as the high half of an f32, q8_0 as scale * int8.
void DecodeRow(GgmlType type, const uint16_t* src, int64_t D, double* dst) {
  const std::vector<double>& half = HalfTable();
  if (type == GgmlType::kF16) {
    for (int64_t k = 0; k < D; ++k) dst[k] = half[src[k]];
  } else if (type == GgmlType::kBF16) {
    for (int64_t k = 0; k < D; ++k) {
      const uint32_t bits = static_cast<uint32_t>(src[k]) << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      dst[k] = f;
    }
  } else {
    SKV_CHECK(type == GgmlType::kQ8_0 && D % 32 == 0);
    const uint8_t* b = reinterpret_cast<const uint8_t*>(src);
    for (int64_t blk = 0; blk < D / 32; ++blk, b += 34) {
      uint16_t d;
      std::memcpy(&d, b, 2);
      for (int64_t k = 0; k < 32; ++k) {
        dst[blk * 32 + k] = half[d] * static_cast<int8_t>(b[2 + k]);
      }
    }
  }
}

// A probability as it meets V (attention.h): rounded to f16 for f16 values,
// to bf16 (nearest even) for bf16, unrounded for q8_0.
double ProbabilityForValues(GgmlType type, double p) {
  const float f = static_cast<float>(p);
  if (type == GgmlType::kF16) return HalfTable()[F32ToF16Bits(f)];
  if (type == GgmlType::kBF16) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    bits = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
    float r;
    std::memcpy(&r, &bits, 4);
    return r;
  }
  return f;
}

}  // namespace

void AttentionRef(const AttentionShape& shape, const AttentionMask& mask,
                  float scale, const float* q, const int32_t* q_pos,
                  int64_t n_q, const KvView& kv, float* out,
                  const WindowSaliency* saliency) {
  SKV_CHECK(shape.n_heads % shape.n_kv_heads == 0);
  const int64_t H = shape.n_heads, D = shape.head_dim;
  const int64_t n_rep = H / shape.n_kv_heads;
  const int64_t n = kv.n;
  int64_t t_win = n_q, w = 0;
  if (saliency != nullptr && saliency->window > 0) {
    t_win = std::max<int64_t>(0, n_q - saliency->window);
    w = n_q - t_win;
    std::fill(saliency->scores, saliency->scores + H * n, 0.f);
    if (saliency->rows != nullptr) {
      std::fill(saliency->rows, saliency->rows + H * w * n, 0.f);
    }
    if (saliency->last_logits != nullptr) {
      std::fill(saliency->last_logits, saliency->last_logits + H * n,
                -std::numeric_limits<float>::infinity());
    }
  }
  const int64_t units = KvRowUnits(kv.type, D);
  std::vector<double> row(static_cast<size_t>(D));    // [D] one decoded K or V row
  std::vector<double> logit(static_cast<size_t>(n));  // [n]
  std::vector<char> visible(static_cast<size_t>(n));  // [n]
  std::vector<double> acc(static_cast<size_t>(D));    // [D]
  for (int64_t t = 0; t < n_q; ++t) {
    for (int64_t h = 0; h < H; ++h) {
      const int64_t g = h / n_rep;
      const float* qv = q + (t * H + h) * D;

      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < n; ++j) {
        const int64_t qp = q_pos[t], kp = *kv.Pos(g, j);
        visible[j] = kp <= qp &&
                     (mask.sliding_window <= 0 || qp - kp < mask.sliding_window);
        if (!visible[j]) continue;
        double s = 0.0;
        DecodeRow(kv.type, kv.Key(g, j, units), D, row.data());
        for (int64_t k = 0; k < D; ++k) s += static_cast<double>(qv[k]) * row[k];
        s *= scale;
        if (mask.softcap > 0.f) s = mask.softcap * std::tanh(s / mask.softcap);
        logit[j] = s;
        mx = std::max(mx, s);
        if (t == n_q - 1 && t >= t_win && saliency->last_logits != nullptr) {
          saliency->last_logits[h * n + j] = static_cast<float>(s);
        }
      }
      double sum = 0.0;
      for (int64_t j = 0; j < n; ++j) {
        if (visible[j]) sum += std::exp(logit[j] - mx);
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = 0; j < n; ++j) {
        if (!visible[j]) continue;
        const double pj = std::exp(logit[j] - mx) / sum;
        const double pv = ProbabilityForValues(kv.type, pj);
        DecodeRow(kv.type, kv.Value(g, j, units), D, row.data());
        for (int64_t k = 0; k < D; ++k) acc[k] += pv * row[k];
        if (t < t_win) continue;
        float& score = saliency->scores[h * n + j];
        score = saliency->reduce_max ? std::max(score, static_cast<float>(pj))
                                     : score + static_cast<float>(pj);
        if (saliency->rows != nullptr) {
          saliency->rows[(h * w + (t - t_win)) * n + j] = static_cast<float>(pj);
        }
      }
      float* dst = out + (t * H + h) * D;
      for (int64_t k = 0; k < D; ++k) {
        dst[k] = sum > 0.0 ? static_cast<float>(acc[k]) : 0.f;
      }
    }
  }
}

}  // namespace skv
