// `structkv` (arXiv 2604.06746): global in-degree centrality accumulated
// across layers, C <- lambda * C + S_l with S_l the layer's pooled,
// head-summed window saliency, finds the tokens that act as hubs even when
// they look dormant at one layer. At the pivot layer the residual stream is
// cut to the skeleton topk(C) U window (rate --struct-rate); later layers run
// on it only. Decoupled from that, every layer keeps floor(N * R_KV) entries
// per KV head by its own local saliency.
//
// Pivot: detected online from entropy, sparsity and variance of the window
// rows (compress/pivot.h; the default), or fixed by --pivot.
//
// [ours] Sliding-window layers (Gemma 3's local layers) cannot see past
// their window, so their window rows say nothing about in-degree over the
// document: C accumulates full-attention layers only, and the pivot metrics
// are measured on them only. With lambda = 0 and a fixed pivot, C is the
// last full-attention layer's saliency: exactly FastKV's propagated set.
#include <algorithm>
#include <limits>
#include <optional>

#include "compress/method.h"
#include "compress/pivot.h"
#include "compress/selection.h"

namespace skv {
namespace {

class StructKvMethod : public KvMethod {
 public:
  using KvMethod::KvMethod;
  const char* name() const override { return "structkv"; }
  ScoreSource scores_needed() const override { return ScoreSource::kWindow; }
  bool propagates() const override { return true; }
  bool wants_window_rows() const override {
    return auto_pivot() || options_.pivot_metrics;
  }
  const PropagationTrace* propagation_trace() const override { return &trace_; }

  LayerKeep Select(const LayerScores& layer) const override {
    return SelectByWindowSaliency(layer, options_);
  }

  void BeginPrefill(int64_t n_layers) override {
    centrality_.clear();
    trace_ = PropagationTrace{};
    detector_.emplace(n_layers);
    cut_ = false;
  }

  std::vector<int32_t> PropagationRows(const LayerScores& layer) override {
    if (cut_) return {};
    const int64_t w = std::min(options_.window, layer.n);
    const bool global = layer.sliding_window <= 0;
    if (centrality_.empty()) centrality_.assign(layer.n, 0.f);
    if (global) {
      const std::vector<float> s =
          TokenScores(layer, w, options_.pool, options_.pool_kernel);
      const float lambda = static_cast<float>(options_.lambda);
      // Window entries score +inf (always kept); they stay out of the sums
      // so that lambda = 0 does not turn 0 * inf into NaN.
      for (int64_t j = 0; j < layer.n - w; ++j) {
        centrality_[j] = lambda * centrality_[j] + s[j];
      }
    }
    bool fire = false;
    if (wants_window_rows()) {
      LayerPivotMetrics m;
      m.layer = layer.layer;
      if (global) {
        m = MeasurePivotMetrics(layer, w,
                                options_.budget.Entries(layer.prompt_length(), 0));
      }
      fire = detector_->Observe(m);
      trace_.layers.push_back(m);
    }
    if (auto_pivot()) {
      trace_.pivot_rule = detector_->reason();
    } else {
      const int64_t pivot = PivotLayer(options_, layer.n_layers);
      fire = layer.layer == pivot;
      trace_.pivot_rule = options_.pivot >= 0 ? "fixed (--pivot)" : "fixed (depth-scaled)";
    }
    if (!fire || layer.layer + 1 >= layer.n_layers) return {};
    cut_ = true;
    trace_.pivot = layer.layer;
    const int64_t keep = SkeletonSize(options_, layer, w);
    std::vector<float> ranked = centrality_;  // [n]
    std::fill(ranked.end() - w, ranked.end(), std::numeric_limits<float>::infinity());
    trace_.skeleton = keep;
    return TopEntries(ranked, keep);
  }

 private:
  bool auto_pivot() const {
    return options_.pivot == kPivotAuto || options_.pivot == kPivotDefault;
  }
  std::vector<float> centrality_;  // [N] C accumulated up to the pivot
  std::optional<PivotDetector> detector_;
  PropagationTrace trace_;
  bool cut_ = false;
};

}  // namespace

std::unique_ptr<KvMethod> CreateStructKvMethod(const MethodOptions& options) {
  return std::make_unique<StructKvMethod>(options);
}

}  // namespace skv
