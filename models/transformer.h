// The decoder forward pass shared by every family: plain calls (RmsNorm,
// attention, FFN, residual) steered by ModelConfig flags, over a batch of
// tokens, one layer at a time across the whole batch (layer-major), so that
// weights stream once per batch and per-layer compression can hook in later.
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "compress/kv_store.h"
#include "models/model.h"

namespace skv {

// Attention statistics requested from the kernel while it computes a batch
// (no second pass over the keys): for each layer, the sum over the batch's
// last `window` queries (all of them when window >= T) of every query head's
// softmax probability on every entry of the layer.
// What one layer's attention kernel emitted for the probe (simd/attention.h
// WindowSaliency). Pointers are valid during the callback only.
struct LayerAttention {
  int64_t layer = 0;
  int64_t n_kv = 0;                    // entries per KV head at the layer
  const float* scores = nullptr;       // [n_heads][n_kv] sum (or max) over window rows
  int64_t window_rows = 0;             // rows of `rows`
  const float* rows = nullptr;         // [n_heads][window_rows][n_kv] or null
  const float* last_logits = nullptr;  // [n_heads][n_kv] or null
};

struct AttentionProbe {
  int64_t window = 0;
  bool reduce_max = false;        // scores: max over the window rows, not the sum
  bool want_rows = false;         // per-row probabilities (pivot metrics)
  bool want_last_logits = false;  // the last query's logits (GemFilter)
  std::function<void(const LayerAttention&)> on_layer;
  // Structural propagation: called after each layer (once its residual
  // stream is complete) with that layer's index; a non-empty result lists the
  // batch rows (ascending) that continue to the next layers, which then run
  // on those rows only, at their original positions. Rows named in
  // logit_rows must survive. Empty: keep every row.
  std::function<std::vector<int64_t>(int64_t layer)> rows_after_layer;
  // Fidelity measurements: each layer's attention output before the output
  // projection, att [rows][n_heads * head_dim_v], for the batch rows still
  // present, at positions pos [rows].
  std::function<void(int64_t layer, const float* att, const int32_t* pos,
                     int64_t rows)> on_attention_output;
  // > 0: each layer runs the batch's rows in chunks of this many (the last
  // chunk holding at least `window` rows), one layer at a time, as
  // batches of that size would compute them; scratch is sized for one chunk.
  // What a one-batch (layer-major) prefill of a long prompt wants.
  int64_t layer_chunk = 0;
  // >= 0: stop after this layer (no logits; later layers get no KV entries).
  // GemFilter scores its filter layer this way.
  int64_t last_layer = -1;
};

// Runs tokens [T] at positions [T] through every layer, appending their keys
// and values to `kv`. Writes the logits of the batch rows listed in
// `logit_rows` to logits [logit_rows.size()][n_vocab]. Tokens must be valid
// ids (callers validate user input). Multithreaded inside each op.
void Forward(const Model& model, std::span<const int32_t> tokens,
             std::span<const int32_t> positions, KvStore& kv,
             std::span<const int64_t> logit_rows, float* logits,
             const AttentionProbe* probe = nullptr);

}  // namespace skv
