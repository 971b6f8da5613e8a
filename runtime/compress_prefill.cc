#include "runtime/compress_prefill.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "base/check.h"

namespace skv {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Statistics of one prefill, per layer, gathered from the attention kernel.
struct PrefillScores {
  int64_t H = 0;
  std::vector<std::vector<float>> scores;  // [L][H * n_l] (empty: none)
  std::vector<int64_t> n;                  // [L] entries per layer
};

// Merges a batch's layer statistics into the prompt-wide ones: batches see
// the entries present so far, so columns line up with the layer's entries.
void Merge(const LayerAttention& a, int64_t n_total, bool take_max,
           PrefillScores& acc) {
  std::vector<float>& dst = acc.scores[a.layer];
  if (dst.empty()) dst.assign(acc.H * n_total, 0.f);
  for (int64_t h = 0; h < acc.H; ++h) {
    const float* src = a.scores + h * a.n_kv;
    float* out = dst.data() + h * n_total;
    for (int64_t j = 0; j < a.n_kv; ++j) {
      out[j] = take_max ? std::max(out[j], src[j]) : out[j] + src[j];
    }
  }
}

// [ours] Entries of a sliding-window layer that no later query can see
// (position <= next_pos - window) are dead weight. When a layer's budget
// covers every entry later queries can still see, it keeps exactly those:
// lossless for that layer. Otherwise the method's choice stands.
void TrimSlidingWindowLayer(const std::vector<int32_t>& positions, int64_t window,
                            int64_t next_pos, LayerKeep& keep) {
  std::vector<int32_t> live;  // entries later queries can see
  for (size_t j = 0; j < positions.size(); ++j) {
    if (positions[j] > next_pos - window) live.push_back(static_cast<int32_t>(j));
  }
  for (const auto& head : keep) {
    if (head.size() < live.size()) return;
  }
  for (auto& head : keep) head = live;
}

}  // namespace

double CompressionReport::compression_ratio() const {
  int64_t kept = 0, full = 0;
  for (int64_t k : kept_per_layer) kept += k;
  for (int64_t f : full_per_layer) full += f;
  if (full == 0) return 0.0;
  return 1.0 - static_cast<double>(kept) / static_cast<double>(full);
}

StatusOr<CompressionReport> PrefillAndCompress(Session& session,
                                               std::span<const int32_t> doc,
                                               KvMethod& method,
                                               int64_t extra_slots) {
  if (session.n_past() != 0) {
    return Status::Error("compression needs an empty session (internal use)");
  }
  const auto t0 = Clock::now();
  const ModelConfig& c = session.model().config();
  const int64_t L = c.n_layers, N = static_cast<int64_t>(doc.size());
  std::vector<int64_t> sliding(L);  // [L]
  for (int64_t l = 0; l < L; ++l) sliding[l] = c.layers[l].sliding_window;
  PrefillScores ps;
  ps.H = c.n_heads;
  ps.n.assign(L, N);
  CompressionReport report;
  report.prompt_tokens = N;
  const MethodOptions& opt = method.options();
  const int64_t w = std::min(opt.window, N);
  // [L][n_l] positions of each layer's entries (the same for every head
  // before compaction), refreshed as layers fill.
  std::vector<std::vector<int32_t>> positions(L);
  auto layer_scores = [&](int64_t l) {
    positions[l] = session.kv().layer(l).Positions(0);
    LayerScores ls;
    ls.layer = l;
    ls.n_layers = L;
    ls.n = ps.n[l];
    ls.prompt = N;
    ls.n_heads = c.n_heads;
    ls.n_kv_heads = c.n_kv_heads;
    ls.sliding_window = sliding[l];
    ls.positions = positions[l].data();
    ls.scores = ps.scores.empty() || ps.scores[l].empty() ? nullptr : ps.scores[l].data();
    return ls;
  };

  const ScoreSource source = method.scores_needed();
  const int64_t filter_layer = method.FilterLayer(sliding);
  if (filter_layer >= 0) {
    // GemFilter: layers 0..r over the prompt, the last query's logits at r.
    std::vector<int32_t> kept;
    AttentionProbe probe;
    probe.last_layer = filter_layer;
    SKV_RETURN_IF_ERROR(session.Evaluate(doc.first(N - 1), false, nullptr, &probe));
    probe.window = 1;
    probe.want_last_logits = true;
    probe.on_layer = [&](const LayerAttention& a) {
      if (a.layer != filter_layer) return;
      LayerScores ls = layer_scores(a.layer);
      ls.n = a.n_kv;
      ls.scores = nullptr;
      ls.last_logits = a.last_logits;
      kept = method.FilterTokens(ls);
    };
    SKV_RETURN_IF_ERROR(session.Evaluate(doc.last(1), false, nullptr, &probe));
    report.flops = CountPrefillFlops(c, session.kv(), filter_layer + 1);
    report.flops.linear -= 2.0 * c.n_embd * c.n_vocab;  // no LM head in this pass
    std::vector<int32_t> ids;  // [k] the kept tokens, renumbered 0..k-1
    for (int32_t j : kept) ids.push_back(doc[j]);
    session.Reset();
    SKV_RETURN_IF_ERROR(session.Evaluate(ids, false, nullptr));
    ps.n.assign(L, static_cast<int64_t>(ids.size()));
    report.filter_layer = filter_layer;
    report.positions_renumbered = true;
  } else if (method.propagates()) {
    // One batch, layer-major: each layer's window scores decide which rows
    // continue past it (the skeleton at the pivot) and later its KV budget.
    ps.scores.assign(L, {});
    method.BeginPrefill(L);
    const std::vector<float>* rows = nullptr;
    int64_t window_rows = 0;
    AttentionProbe probe;
    probe.window = w;
    probe.want_rows = method.wants_window_rows();
    std::vector<float> layer_rows;  // [H][w][n] of the layer just computed
    probe.on_layer = [&](const LayerAttention& a) {
      ps.scores[a.layer].assign(a.scores, a.scores + c.n_heads * a.n_kv);
      ps.n[a.layer] = a.n_kv;
      if (a.rows != nullptr) {
        layer_rows.assign(a.rows, a.rows + c.n_heads * a.window_rows * a.n_kv);
        rows = &layer_rows;
        window_rows = a.window_rows;
      }
    };
    probe.rows_after_layer = [&](int64_t layer) {
      LayerScores ls = layer_scores(layer);
      if (rows != nullptr) {
        ls.rows = rows->data();
        ls.window_rows = window_rows;
      }
      const std::vector<int32_t> keep = method.PropagationRows(ls);
      rows = nullptr;
      return std::vector<int64_t>(keep.begin(), keep.end());
    };
    SKV_RETURN_IF_ERROR(session.EvaluateAsOneBatch(doc, &probe));
  } else if (source == ScoreSource::kNone) {
    SKV_RETURN_IF_ERROR(session.Evaluate(doc, false, nullptr));
  } else {
    ps.scores.assign(L, {});
    AttentionProbe probe;
    const bool take_max = source == ScoreSource::kProbeMax;
    probe.reduce_max = take_max;
    probe.on_layer = [&](const LayerAttention& a) { Merge(a, N, take_max, ps); };
    // The probed queries form their own batches, so that the kernel's window
    // rows are exactly the document's last queries.
    int64_t probed = N;
    if (source == ScoreSource::kWindow) probed = w;
    if (source == ScoreSource::kProbeMax && opt.probe_queries > 0) {
      probed = std::min(N, opt.probe_queries);
    }
    SKV_RETURN_IF_ERROR(session.Evaluate(doc.first(N - probed), false, nullptr));
    probe.window = std::numeric_limits<int64_t>::max();  // every query of the batch
    SKV_RETURN_IF_ERROR(session.Evaluate(doc.last(probed), false, nullptr, &probe));
  }
  report.flops += CountPrefillFlops(c, session.kv(), L);
  report.flops_full = FullPrefillFlops(c, N);
  report.computed_per_layer = ps.n;
  if (const PropagationTrace* t = method.propagation_trace()) report.trace = *t;

  const auto t_select = Clock::now();
  std::vector<LayerScores> layers;
  for (int64_t l = 0; l < L; ++l) layers.push_back(layer_scores(l));
  std::vector<LayerKeep> keep = method.SelectLayers(layers);
  SKV_CHECK(static_cast<int64_t>(keep.size()) == L);
  const int64_t next_pos = session.n_past();
  for (int64_t l = 0; l < L; ++l) {
    SKV_CHECK(static_cast<int64_t>(keep[l].size()) == c.n_kv_heads);
    const int64_t bpe = session.kv().layer(l).bytes_per_entry();
    const int64_t full = sliding[l] > 0 ? std::min(N, sliding[l] - 1) : N;
    if (sliding[l] > 0) {
      TrimSlidingWindowLayer(positions[l], sliding[l], next_pos, keep[l]);
    }
    report.full_per_layer.push_back(full);
    report.kv_bytes_full += full * bpe;
    report.kept_per_layer.push_back(static_cast<int64_t>(keep[l][0].size()));
  }
  session.CompactKv(keep, extra_slots);
  report.kv_bytes_kept = session.kv().live_bytes();
  report.select_seconds = SecondsSince(t_select);
  report.seconds = SecondsSince(t0);
  return report;
}

}  // namespace skv
