// Query-agnostic compression of a prompt's KV cache: prefill the document,
// collect the attention statistics the method asks for from the attention
// kernel, let the method choose each layer's entries per KV head, and compact
// the cache. Later tokens (the question, the answer) continue at position N.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "compress/method.h"
#include "runtime/session.h"

namespace skv {

struct CompressionReport {
  int64_t prompt_tokens = 0;
  std::vector<int64_t> kept_per_layer;  // [n_layers] entries per KV head
  // [n_layers] tokens each layer computed on (< N after a structural pivot)
  std::vector<int64_t> computed_per_layer;
  int64_t kv_bytes_full = 0;            // KV bytes of the uncompressed prompt
  int64_t kv_bytes_kept = 0;            // live KV bytes after
  double seconds = 0;                   // prefill + selection + compaction
  // Fraction of KV entries removed, measured over all layers and heads.
  double compression_ratio() const;
};

// `session` must be empty. extra_slots: room kept for the tokens that follow.
StatusOr<CompressionReport> PrefillAndCompress(Session& session,
                                               std::span<const int32_t> doc,
                                               KvMethod& method,
                                               int64_t extra_slots);

}  // namespace skv
