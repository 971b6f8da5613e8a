// StructKV's dynamic pivot detection (docs/method.md section 1): per layer,
// entropy, sparsity and variance of the window attention rows, combined into
// a transition score T_l; an online rule picks the layer after which the
// residual stream is cut to the skeleton.
#pragma once

#include <cstdint>
#include <vector>

#include "compress/method.h"

namespace skv {

// Metrics of one layer from its window rows (layer.rows, layer.window_rows)
// and summed scores. kv_keep: the KV budget k of the sparsity metric.
// Entropy: mean over heads and rows of -sum p log p / log(support), support
// = keys the row gives nonzero probability. Sparsity: mean over rows of the
// top-k probability mass, sinks (the first 4 entries) excluded. Variance:
// variance of S_l[j] / mean(S_l) over non-sink, non-window entries.
LayerPivotMetrics MeasurePivotMetrics(const LayerScores& layer, int64_t window,
                                      int64_t kv_keep);

// The online rule, fed layer by layer (layers in order, from 0).
// T_l = 0.2 g(-H) + 0.3 g(rho) + 0.5 g(V), with g the backward difference
// normalised by the running max of its absolute value. Inside the band
// [ceil(0.25 L), floor(0.65 L)] it fires at layer l when T_{l-1} was the
// band's running maximum and T_l fell below it, and at the band's end
// otherwise. Layers without a measurement (sliding-window layers, which
// cannot see the document) repeat the previous metrics, so g = 0 there.
class PivotDetector {
 public:
  explicit PivotDetector(int64_t n_layers);
  // Records layer metrics (filling m.transition); true when the stream
  // should be cut after this layer.
  bool Observe(LayerPivotMetrics& m);
  int64_t band_begin() const { return band_begin_; }
  int64_t band_end() const { return band_end_; }
  const char* reason() const { return reason_; }

 private:
  double Normalised(int which, double diff);
  int64_t n_layers_, band_begin_, band_end_;
  bool have_prev_ = false;
  LayerPivotMetrics prev_;
  double max_abs_diff_[3] = {0, 0, 0};
  double band_max_ = 0;
  bool band_started_ = false;
  double prev_t_ = 0;
  const char* reason_ = "";
};

}  // namespace skv
