// Prefill work, counted from what the forward pass really computed: each
// layer's tokens are the entries it appended to the KV cache (before any
// compaction), so structural propagation and token filtering are counted as
// run. A multiply-add is 2 FLOPs.
#pragma once

#include <cstdint>
#include <vector>

#include "compress/kv_store.h"
#include "models/model_config.h"

namespace skv {

struct PrefillFlops {
  double linear = 0;     // projections and FFN of every computed token
  double attention = 0;  // Q.K and P.V over each query's visible keys
  double total() const { return linear + attention; }
  PrefillFlops& operator+=(const PrefillFlops& o) {
    linear += o.linear;
    attention += o.attention;
    return *this;
  }
};

// Work of one layer whose computed tokens sit at `positions` (ascending).
PrefillFlops LayerPrefillFlops(const ModelConfig& c, int64_t layer,
                               const int32_t* positions, int64_t n);

// Layers [0, n_layers) of `kv` as they stand (uncompacted), plus the LM head
// for one row.
PrefillFlops CountPrefillFlops(const ModelConfig& c, const KvStore& kv,
                               int64_t n_layers);

// An uncompressed prefill of n tokens at positions 0..n-1.
PrefillFlops FullPrefillFlops(const ModelConfig& c, int64_t n);

}  // namespace skv
