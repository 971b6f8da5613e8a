#include "runtime/compress_prefill.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "base/check.h"

namespace skv {

double CompressionReport::compression_ratio() const {
  if (prompt_tokens == 0 || kept_per_layer.empty()) return 0.0;
  // Entries removed against a full cache of prompt_tokens per layer.
  int64_t kept = 0;
  for (int64_t k : kept_per_layer) kept += k;
  return 1.0 - static_cast<double>(kept) /
                   (static_cast<double>(prompt_tokens) * kept_per_layer.size());
}

StatusOr<CompressionReport> PrefillAndCompress(Session& session,
                                               std::span<const int32_t> doc,
                                               KvMethod& method,
                                               int64_t extra_slots) {
  if (session.n_past() != 0) {
    return Status::Error("compression needs an empty session (internal use)");
  }
  const auto t0 = std::chrono::steady_clock::now();
  const ModelConfig& c = session.model().config();
  const int64_t N = static_cast<int64_t>(doc.size());
  const int64_t H = c.n_heads;
  // scores[l]: [H][N] summed attention statistics of layer l.
  std::vector<std::vector<float>> scores;
  std::vector<int64_t> layer_n(c.n_layers, N);  // entries per layer
  const ScoreSource source = method.scores_needed();
  auto layer_scores = [&](int64_t l) {
    LayerScores ls;
    ls.layer = l;
    ls.n_layers = c.n_layers;
    ls.n = layer_n[l];
    ls.prompt = N;
    ls.n_heads = H;
    ls.n_kv_heads = c.n_kv_heads;
    ls.scores = scores.empty() || scores[l].empty() ? nullptr : scores[l].data();
    return ls;
  };
  if (method.propagates()) {
    // One batch, layer-major: each layer's window scores decide which rows
    // continue past it (the skeleton at the pivot) and later its KV budget.
    const int64_t w = std::min(method.options().window, N);
    scores.assign(c.n_layers, {});
    method.BeginPrefill(c.n_layers);
    AttentionProbe probe;
    probe.window = w;
    probe.on_layer = [&](int64_t layer, const float* s, int64_t n_kv) {
      scores[layer].assign(s, s + H * n_kv);
      layer_n[layer] = n_kv;
    };
    probe.rows_after_layer = [&](int64_t layer) {
      const std::vector<int32_t> rows = method.PropagationRows(layer_scores(layer));
      return std::vector<int64_t>(rows.begin(), rows.end());
    };
    SKV_RETURN_IF_ERROR(session.EvaluateAsOneBatch(doc, &probe));
  } else if (source == ScoreSource::kNone) {
    SKV_RETURN_IF_ERROR(session.Evaluate(doc, false, nullptr));
  } else {
    scores.assign(c.n_layers, std::vector<float>(H * N, 0.f));
    AttentionProbe probe;
    probe.on_layer = [&](int64_t layer, const float* s, int64_t n_kv) {
      // Batches see the entries present so far; add them column by column.
      std::vector<float>& dst = scores[layer];
      for (int64_t h = 0; h < H; ++h) {
        for (int64_t j = 0; j < n_kv; ++j) dst[h * N + j] += s[h * n_kv + j];
      }
    };
    if (source == ScoreSource::kWindow) {
      // The last `window` tokens form their own batch so that the kernel's
      // window rows are exactly the document's last queries.
      const int64_t w = std::min(method.options().window, N);
      SKV_RETURN_IF_ERROR(session.Evaluate(doc.first(N - w), false, nullptr));
      probe.window = w;
      SKV_RETURN_IF_ERROR(session.Evaluate(doc.subspan(N - w), false, nullptr, &probe));
    } else {
      probe.window = std::numeric_limits<int64_t>::max();  // every query
      SKV_RETURN_IF_ERROR(session.Evaluate(doc, false, nullptr, &probe));
    }
  }
  CompressionReport report;
  report.prompt_tokens = N;
  report.computed_per_layer = layer_n;
  // Full = every prompt token in every layer (propagation already dropped
  // entries from the layers after the pivot).
  for (int64_t l = 0; l < c.n_layers; ++l) {
    report.kv_bytes_full += N * session.kv().layer(l).bytes_per_entry();
  }
  std::vector<LayerKeep> keep(c.n_layers);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    keep[l] = method.Select(layer_scores(l));
    SKV_CHECK(static_cast<int64_t>(keep[l].size()) == c.n_kv_heads);
    report.kept_per_layer.push_back(static_cast<int64_t>(keep[l][0].size()));
  }
  session.CompactKv(keep, extra_slots);
  report.kv_bytes_kept = session.kv().live_bytes();
  report.seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace skv
