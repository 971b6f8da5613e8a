// The decoder forward pass shared by every family: plain calls (RmsNorm,
// attention, FFN, residual) steered by ModelConfig flags, over a batch of
// tokens, one layer at a time across the whole batch (layer-major), so that
// weights stream once per batch and per-layer compression can hook in later.
#pragma once

#include <cstdint>
#include <span>

#include "compress/kv_store.h"
#include "models/model.h"

namespace skv {

// Runs tokens [T] at positions [T] through every layer, appending their keys
// and values to `kv`. Writes the logits of the batch rows listed in
// `logit_rows` to logits [logit_rows.size()][n_vocab]. Tokens must be valid
// ids (callers validate user input). Multithreaded inside each op.
void Forward(const Model& model, std::span<const int32_t> tokens,
             std::span<const int32_t> positions, KvStore& kv,
             std::span<const int64_t> logit_rows, float* logits);

}  // namespace skv
