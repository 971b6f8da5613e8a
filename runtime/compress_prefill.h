// Query-agnostic compression of a prompt's KV cache: prefill the document,
// collect the attention statistics the method asks for from the attention
// kernel, let the method choose each layer's entries per KV head, and compact
// the cache. Later tokens (the question, the answer) continue at position N
// (GemFilter: at the number of tokens it kept, whose positions it renumbers).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "compress/method.h"
#include "runtime/flops.h"
#include "runtime/session.h"

namespace skv {

struct CompressionReport {
  int64_t prompt_tokens = 0;
  std::vector<int64_t> kept_per_layer;  // [n_layers] entries per KV head
  // [n_layers] entries per KV head of the uncompressed cache. Sliding-window
  // layers only ever need the last window - 1 entries of a prompt (later
  // queries cannot see the rest), so "full" stores that many there.
  std::vector<int64_t> full_per_layer;
  // [n_layers] tokens each layer computed on (< N after a structural pivot,
  // k for GemFilter's second pass)
  std::vector<int64_t> computed_per_layer;
  int64_t kv_bytes_full = 0;            // KV bytes of the uncompressed prompt
  int64_t kv_bytes_kept = 0;            // live KV bytes after
  PrefillFlops flops;                   // what this prefill computed
  PrefillFlops flops_full;              // an uncompressed prefill of the prompt
  PropagationTrace trace;               // pivot and its metrics (propagating methods)
  int64_t filter_layer = -1;            // GemFilter's scoring layer
  bool positions_renumbered = false;    // GemFilter: kept tokens at 0..k-1
  double seconds = 0;                   // prefill + selection + compaction
  double select_seconds = 0;            // selection + compaction alone
  // Time in the per-layer hooks of a propagating prefill: copying the
  // kernel's window scores and rows, centrality, pivot metrics, skeleton
  // choice (the kernel's own score emission is measured by
  // bench/attention_bench.cc, BM_AttentionPrefillSaliency).
  double scoring_seconds = 0;
  // Fraction of KV entries removed against full_per_layer, all layers and heads.
  double compression_ratio() const;
};

// `session` must be empty. extra_slots: room kept for the tokens that follow.
StatusOr<CompressionReport> PrefillAndCompress(Session& session,
                                               std::span<const int32_t> doc,
                                               KvMethod& method,
                                               int64_t extra_slots);

// Attention statistics of a prefill, per layer.
struct PrefillScores {
  int64_t H = 0;                           // query heads
  std::vector<std::vector<float>> scores;  // [L][H * n_l] (empty: none)
  std::vector<int64_t> n;                  // [L] entries per layer
};

// One uncompressed prefill, kept with the statistics one score source
// needs, so that every method that neither propagates nor filters can be
// applied to copies of it, at any budget, without prefilling again (what an
// evaluation sweep over methods x budgets wants).
struct PrefilledPrompt {
  Session session;  // the uncompressed prompt
  ScoreSource source = ScoreSource::kNone;
  int64_t window = 0, probe_queries = 0;
  PrefillScores scores{};
  PrefillFlops flops{};
  double seconds = 0;
};

// Whether `method` can use a PrefilledPrompt.
bool CanSharePrefill(const KvMethod& method, const ModelConfig& config);

// `session` (moved in) must be empty; options supply window and probe_queries.
StatusOr<PrefilledPrompt> PrefillForSelection(Session session,
                                              std::span<const int32_t> doc,
                                              ScoreSource source,
                                              const MethodOptions& options);

// *out becomes a copy of the prompt's session compressed by `method`, whose
// statistics must match the prompt's (kNone fits any); errors otherwise.
StatusOr<CompressionReport> CompressPrefilled(const PrefilledPrompt& prompt,
                                              const KvMethod& method,
                                              int64_t extra_slots, Session* out);

}  // namespace skv
