#include "compress/pivot.h"

#include <algorithm>
#include <cmath>

#include "compress/selection.h"

namespace skv {
namespace {

constexpr int64_t kSinks = 4;  // attention sinks: the first entries of a prompt

}  // namespace

LayerPivotMetrics MeasurePivotMetrics(const LayerScores& layer, int64_t window,
                                      int64_t kv_keep) {
  LayerPivotMetrics m;
  m.layer = layer.layer;
  m.measured = true;
  const int64_t n = layer.n, H = layer.n_heads, w = layer.window_rows;
  if (layer.rows != nullptr && w > 0 && n > 0) {
    std::vector<float> rest;  // [n - sinks] one row's non-sink probabilities
    double entropy = 0, sparsity = 0;
    int64_t counted = 0;
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t i = 0; i < w; ++i) {
        const float* p = layer.rows + (h * w + i) * n;
        double e = 0;
        int64_t support = 0;
        for (int64_t j = 0; j < n; ++j) {
          if (p[j] > 0.f) {
            e -= p[j] * std::log(static_cast<double>(p[j]));
            ++support;
          }
        }
        if (support == 0) continue;
        entropy += support > 1 ? e / std::log(static_cast<double>(support)) : 0.0;
        const int64_t sinks = std::min(kSinks, n);
        rest.assign(p + sinks, p + n);
        const int64_t k = std::min<int64_t>(kv_keep, static_cast<int64_t>(rest.size()));
        std::nth_element(rest.begin(), rest.begin() + k, rest.end(),
                         std::greater<float>());
        double mass = 0;
        for (int64_t j = 0; j < k; ++j) mass += rest[j];
        sparsity += mass;
        ++counted;
      }
    }
    if (counted > 0) {
      m.entropy = entropy / counted;
      m.sparsity = sparsity / counted;
    }
  }
  if (layer.scores != nullptr) {
    // Unpooled local saliency S_l over the prefix, sinks and window excluded.
    const std::vector<float> s = TokenScores(layer, window, PoolKind::kNone, 1);
    const int64_t lo = std::min(kSinks, n), hi = std::max(lo, n - window);
    if (hi - lo >= 2) {
      double mean = 0;
      for (int64_t j = lo; j < hi; ++j) mean += s[j];
      mean /= static_cast<double>(hi - lo);
      if (mean > 0) {
        double var = 0;
        for (int64_t j = lo; j < hi; ++j) {
          const double x = s[j] / mean - 1.0;
          var += x * x;
        }
        m.variance = var / static_cast<double>(hi - lo);
      }
    }
  }
  return m;
}

PivotDetector::PivotDetector(int64_t n_layers)
    : n_layers_(n_layers),
      band_begin_((n_layers + 3) / 4),             // ceil(0.25 L)
      band_end_(std::min(n_layers - 2, 65 * n_layers / 100)) {  // floor(0.65 L)
  band_begin_ = std::min(band_begin_, band_end_);
}

double PivotDetector::Normalised(int which, double diff) {
  max_abs_diff_[which] = std::max(max_abs_diff_[which], std::fabs(diff));
  return max_abs_diff_[which] > 0 ? diff / max_abs_diff_[which] : 0.0;
}

bool PivotDetector::Observe(LayerPivotMetrics& m) {
  if (!m.measured && have_prev_) {
    // A sliding-window layer: no new view of the document.
    m.entropy = prev_.entropy;
    m.sparsity = prev_.sparsity;
    m.variance = prev_.variance;
  }
  double t = 0;
  if (have_prev_) {
    t = 0.2 * Normalised(0, -(m.entropy - prev_.entropy)) +
        0.3 * Normalised(1, m.sparsity - prev_.sparsity) +
        0.5 * Normalised(2, m.variance - prev_.variance);
  }
  m.transition = t;
  if (m.measured || have_prev_) {
    prev_ = m;
    have_prev_ = true;
  }
  const int64_t l = m.layer;
  bool fire = false;
  if (l >= band_begin_ && l <= band_end_) {
    if (band_started_ && prev_t_ >= band_max_ && t < prev_t_) {
      fire = true;
      reason_ = "auto: transition score peaked at the previous layer";
    } else if (l == band_end_) {
      fire = true;
      reason_ = "auto: no peak inside the band, cut at its end";
    }
    band_max_ = band_started_ ? std::max(band_max_, t) : t;
    band_started_ = true;
  }
  prev_t_ = t;
  return fire;
}

}  // namespace skv
