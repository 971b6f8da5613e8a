// A Session holds one sequence's state (KV cache, position) over a shared
// Model: prefill a prompt in token batches, then decode one token at a time.
// Not thread-safe; use one Session per sequence.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "compress/kv_store.h"
#include "compress/method.h"
#include "models/model.h"
#include "models/transformer.h"

namespace skv {

struct LoadedState;  // runtime/session_state.h

struct SessionOptions {
  int64_t n_ctx = 4096;   // maximum tokens (prompt + generated)
  int64_t n_batch = 512;  // prompt tokens per forward batch
  // KV cache storage (--cache-type): f16, bf16 or q8_0 (IsKvCacheType).
  GgmlType kv_type = GgmlType::kF16;
  // Sliding-window layers free the blocks that no later query can see
  // (positions <= next position - window), as llama.cpp's SWA cache does, so
  // their memory is bounded by the window (Gemma 3: 15 of 18 layers keep
  // ~1K entries instead of the whole sequence). Generation, perplexity and
  // benchmarks turn it on; the compressed prefill leaves it off, because its
  // scores index the slots of the whole prompt (and the methods drop the
  // invisible entries at compaction anyway).
  bool trim_sliding_window = false;
};

// --cache-type's value -> the type; errors name the flag and list the types.
StatusOr<GgmlType> ParseKvCacheType(const std::string& name);

class Session {
 public:
  // Errors name the flag (-c, -b) when the options are impossible.
  static StatusOr<Session> Create(const Model& model,
                                  const SessionOptions& options);

  // Appends tokens at positions n_past.. and evaluates them. With
  // all_logits, `logits` receives [tokens][n_vocab]; otherwise only the last
  // token's [n_vocab]. Errors: context full (names -c), invalid token id.
  // `probe`, when given, receives each batch's attention statistics.
  Status Evaluate(std::span<const int32_t> tokens, bool all_logits,
                  std::vector<float>* logits,
                  const AttentionProbe* probe = nullptr);

  // Evaluates all tokens in one forward batch (layer-major over the whole
  // prompt), as structural propagation needs; no logits.
  Status EvaluateAsOneBatch(std::span<const int32_t> tokens,
                            const AttentionProbe* probe);

  // Keeps keep[l] of every layer l (see LayerKv::Compact), leaving room for
  // `extra_slots` more tokens. Positions continue at n_past().
  void CompactKv(const std::vector<LayerKeep>& keep, int64_t extra_slots);

  // Forgets every token (keeps allocations).
  void Reset();

  int64_t n_past() const { return n_past_; }
  int64_t n_ctx() const { return options_.n_ctx; }
  const KvStore& kv() const { return kv_; }
  const Model& model() const { return *model_; }

 private:
  // Restores kv_, n_past_ and the context size from a saved state
  // (runtime/session_state.h).
  friend StatusOr<LoadedState> LoadSessionState(const Model&, SessionOptions,
                                                const std::string&, int64_t);
  Session(const Model& model, const SessionOptions& options);
  // SessionOptions::trim_sliding_window, before a batch at n_past_.
  void DropInvisibleBlocks();
  const Model* model_;
  SessionOptions options_;
  KvStore kv_;
  int64_t n_past_ = 0;
};

}  // namespace skv
