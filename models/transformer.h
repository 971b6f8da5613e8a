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
struct AttentionProbe {
  int64_t window = 0;
  // scores: [n_heads][n_kv], entry order of the layer's KV heads.
  std::function<void(int64_t layer, const float* scores, int64_t n_kv)> on_layer;
  // Structural propagation: called after each layer (once its residual
  // stream is complete) with that layer's index; a non-empty result lists the
  // batch rows (ascending) that continue to the next layers, which then run
  // on those rows only, at their original positions. Rows named in
  // logit_rows must survive. Empty: keep every row.
  std::function<std::vector<int64_t>(int64_t layer)> rows_after_layer;
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
