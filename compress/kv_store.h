// The KV cache of one sequence. Each layer is dense per KV head,
// `[kv_heads][slots][head_dim]`, and every entry keeps its original position,
// so that each layer may later hold its own length and each KV head its own
// token set (KVCompose's composite tokens) without changing the attention
// kernel. Keys are stored after RoPE; values as produced. Storage is f16.
// Not thread-safe: one session owns it.
#pragma once

#include <cstdint>
#include <vector>

#include "simd/attention.h"

namespace skv {

class LayerKv {
 public:
  LayerKv(int64_t n_kv_heads, int64_t head_dim, int64_t head_dim_v);

  // Ensures room for `slots` entries per head (re-lays out if it grows).
  void Reserve(int64_t slots);
  // Appends T entries to every head: k [T][n_kv_heads][head_dim],
  // v [T][n_kv_heads][head_dim_v] (f32, converted to f16), pos [T].
  void Append(const float* k, const float* v, const int32_t* pos, int64_t T);
  // Drops every entry (keeps the allocation).
  void Clear() { length_ = 0; }
  // Keeps, for each KV head g, the entries keep[g] (ascending slot indices,
  // the same count for every head) and reallocates to that count plus
  // `extra_slots`, so evicted entries are really freed.
  void Compact(const std::vector<std::vector<int32_t>>& keep,
               int64_t extra_slots);

  KvView View() const;
  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }
  int64_t n_kv_heads() const { return n_kv_heads_; }
  // Bytes of live entries (keys, values and positions).
  int64_t live_bytes() const;
  // Bytes one entry takes across the layer's KV heads.
  int64_t bytes_per_entry() const;
  int64_t reserved_bytes() const;

 private:
  int64_t n_kv_heads_, head_dim_, head_dim_v_;
  int64_t capacity_ = 0;  // slots per head
  int64_t length_ = 0;    // live slots per head
  std::vector<uint16_t> k_;   // [n_kv_heads][capacity_][head_dim_] f16
  std::vector<uint16_t> v_;   // [n_kv_heads][capacity_][head_dim_v_] f16
  std::vector<int32_t> pos_;  // [n_kv_heads][capacity_]
};

class KvStore {
 public:
  KvStore(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim,
          int64_t head_dim_v);
  LayerKv& layer(int64_t l) { return layers_[l]; }
  const LayerKv& layer(int64_t l) const { return layers_[l]; }
  int64_t n_layers() const { return static_cast<int64_t>(layers_.size()); }
  void Reserve(int64_t slots);
  void Clear();
  int64_t live_bytes() const;
  int64_t reserved_bytes() const;

 private:
  std::vector<LayerKv> layers_;  // [n_layers]
};

}  // namespace skv
