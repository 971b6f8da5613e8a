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

namespace {

std::vector<int64_t> SlidingWindows(const ModelConfig& c) {
  std::vector<int64_t> sliding(c.n_layers);  // [L]
  for (int64_t l = 0; l < c.n_layers; ++l) sliding[l] = c.layers[l].sliding_window;
  return sliding;
}

LayerScores MakeLayerScores(const Session& session, int64_t l, int64_t N,
                            const PrefillScores& ps,
                            std::vector<std::vector<int32_t>>& positions) {
  const ModelConfig& c = session.model().config();
  positions[l] = session.kv().layer(l).Positions(0);
  LayerScores ls;
  ls.layer = l;
  ls.n_layers = c.n_layers;
  ls.n = ps.n[l];
  ls.prompt = N;
  ls.n_heads = c.n_heads;
  ls.n_kv_heads = c.n_kv_heads;
  ls.sliding_window = c.layers[l].sliding_window;
  ls.positions = positions[l].data();
  ls.scores = ps.scores.empty() || ps.scores[l].empty() ? nullptr : ps.scores[l].data();
  return ls;
}

// An uncompressed prefill that gathers one score source (window sums, sums
// over every query, or the max over the last probe queries).
Status PrefillWithScores(Session& session, std::span<const int32_t> doc,
                         ScoreSource source, int64_t window, int64_t probe_queries,
                         PrefillScores& ps) {
  const int64_t N = static_cast<int64_t>(doc.size());
  if (source == ScoreSource::kNone) return session.Evaluate(doc, false, nullptr);
  ps.scores.assign(session.model().config().n_layers, {});
  AttentionProbe probe;
  const bool take_max = source == ScoreSource::kProbeMax;
  probe.reduce_max = take_max;
  probe.on_layer = [&](const LayerAttention& a) { Merge(a, N, take_max, ps); };
  // The probed queries form their own batches, so that the kernel's window
  // rows are exactly the document's last queries.
  int64_t probed = N;
  if (source == ScoreSource::kWindow) probed = std::min(window, N);
  if (source == ScoreSource::kProbeMax && probe_queries > 0) {
    probed = std::min(N, probe_queries);
  }
  SKV_RETURN_IF_ERROR(session.Evaluate(doc.first(N - probed), false, nullptr));
  probe.window = std::numeric_limits<int64_t>::max();  // every query of the batch
  return session.Evaluate(doc.last(probed), false, nullptr, &probe);
}

// Selection, sliding-window trimming and compaction, once the prompt is in
// `session` with its statistics in `ps`; fills the report's KV fields.
void SelectAndCompact(Session& session, int64_t N, const KvMethod& method,
                      const PrefillScores& ps, int64_t extra_slots,
                      CompressionReport& report) {
  const ModelConfig& c = session.model().config();
  const int64_t L = c.n_layers;
  const std::vector<int64_t> sliding = SlidingWindows(c);
  std::vector<std::vector<int32_t>> positions(L);
  std::vector<LayerScores> layers;
  for (int64_t l = 0; l < L; ++l) {
    layers.push_back(MakeLayerScores(session, l, N, ps, positions));
  }
  std::vector<LayerKeep> keep = method.SelectLayers(layers);
  SKV_CHECK(static_cast<int64_t>(keep.size()) == L);
  const int64_t next_pos = session.n_past();
  report.full_per_layer.clear();
  report.kept_per_layer.clear();
  report.kv_bytes_full = 0;
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
}

}  // namespace

bool CanSharePrefill(const KvMethod& method, const ModelConfig& config) {
  return !method.propagates() && method.FilterLayer(SlidingWindows(config)) < 0;
}

StatusOr<PrefilledPrompt> PrefillForSelection(Session session,
                                              std::span<const int32_t> doc,
                                              ScoreSource source,
                                              const MethodOptions& options) {
  if (session.n_past() != 0) {
    return Status::Error("compression needs an empty session (internal use)");
  }
  const auto t0 = Clock::now();
  const ModelConfig& c = session.model().config();
  PrefilledPrompt p{.session = std::move(session)};
  p.source = source;
  p.window = options.window;
  p.probe_queries = options.probe_queries;
  p.scores.H = c.n_heads;
  p.scores.n.assign(c.n_layers, static_cast<int64_t>(doc.size()));
  SKV_RETURN_IF_ERROR(PrefillWithScores(p.session, doc, source, p.window,
                                        p.probe_queries, p.scores));
  p.flops = CountPrefillFlops(c, p.session.kv(), c.n_layers);
  p.seconds = SecondsSince(t0);
  return p;
}

StatusOr<CompressionReport> CompressPrefilled(const PrefilledPrompt& prompt,
                                              const KvMethod& method,
                                              int64_t extra_slots, Session* out) {
  const ModelConfig& c = prompt.session.model().config();
  const ScoreSource need = method.scores_needed();
  const MethodOptions& o = method.options();
  if (!CanSharePrefill(method, c) ||
      (need != ScoreSource::kNone &&
       (need != prompt.source || o.window != prompt.window ||
        (need == ScoreSource::kProbeMax && o.probe_queries != prompt.probe_queries)))) {
    return Status::Error(std::string("--kv ") + method.name() +
                         " cannot reuse this prefill (it needs other statistics or "
                         "its own prefill)");
  }
  const auto t0 = Clock::now();
  // A deep copy of the uncompressed cache (PrefillAndCompress compresses the
  // prompt's own session in place).
  if (out != &prompt.session) *out = prompt.session;
  CompressionReport report;
  const int64_t N = out->n_past();
  report.prompt_tokens = N;
  report.computed_per_layer = prompt.scores.n;
  report.flops = prompt.flops;
  report.flops_full = FullPrefillFlops(c, N);
  SelectAndCompact(*out, N, method, prompt.scores, extra_slots, report);
  report.select_seconds = SecondsSince(t0);
  report.seconds = prompt.seconds + report.select_seconds;
  return report;
}

StatusOr<CompressionReport> PrefillAndCompress(Session& session,
                                               std::span<const int32_t> doc,
                                               KvMethod& method,
                                               int64_t extra_slots) {
  if (session.n_past() != 0) {
    return Status::Error("compression needs an empty session (internal use)");
  }
  if (doc.empty()) return Status::Error("nothing to compress: the document has no tokens");
  const ModelConfig& c = session.model().config();
  if (CanSharePrefill(method, c)) {
    SKV_ASSIGN_OR_RETURN(PrefilledPrompt p,
                         PrefillForSelection(std::move(session), doc,
                                             method.scores_needed(), method.options()));
    auto report = CompressPrefilled(p, method, extra_slots, &p.session);
    session = std::move(p.session);
    return report;
  }
  const auto t0 = Clock::now();
  const int64_t L = c.n_layers, N = static_cast<int64_t>(doc.size());
  const std::vector<int64_t> sliding = SlidingWindows(c);
  PrefillScores ps;
  ps.H = c.n_heads;
  ps.n.assign(L, N);
  CompressionReport report;
  report.prompt_tokens = N;
  const MethodOptions& opt = method.options();
  const int64_t w = std::min(opt.window, N);
  std::vector<std::vector<int32_t>> positions(L);
  auto layer_scores = [&](int64_t l) {
    return MakeLayerScores(session, l, N, ps, positions);
  };
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
      const auto t_hook = Clock::now();
      ps.scores[a.layer].assign(a.scores, a.scores + c.n_heads * a.n_kv);
      ps.n[a.layer] = a.n_kv;
      if (a.rows != nullptr) {
        layer_rows.assign(a.rows, a.rows + c.n_heads * a.window_rows * a.n_kv);
        rows = &layer_rows;
        window_rows = a.window_rows;
      }
      report.scoring_seconds += SecondsSince(t_hook);
    };
    probe.rows_after_layer = [&](int64_t layer) {
      const auto t_hook = Clock::now();
      LayerScores ls = layer_scores(layer);
      if (rows != nullptr) {
        ls.rows = rows->data();
        ls.window_rows = window_rows;
      }
      const std::vector<int32_t> keep = method.PropagationRows(ls);
      rows = nullptr;
      report.scoring_seconds += SecondsSince(t_hook);
      return std::vector<int64_t>(keep.begin(), keep.end());
    };
    SKV_RETURN_IF_ERROR(session.EvaluateAsOneBatch(doc, &probe));
  } else {
    return Status::Error("internal: method needs neither propagation nor filtering");
  }
  report.flops += CountPrefillFlops(c, session.kv(), L);
  report.flops_full = FullPrefillFlops(c, N);
  report.computed_per_layer = ps.n;
  if (const PropagationTrace* t = method.propagation_trace()) report.trace = *t;
  const auto t_select = Clock::now();
  SelectAndCompact(session, N, method, ps, extra_slots, report);
  report.select_seconds = SecondsSince(t_select);
  report.seconds = SecondsSince(t0);
  return report;
}

}  // namespace skv
