// The KV cache of one sequence. Each layer is dense per KV head,
// `[kv_heads][slots][head_dim]` stored in fixed-size blocks of slots, and
// every entry keeps its original position,
// so that each layer may later hold its own length and each KV head its own
// token set (KVCompose's composite tokens) without changing the attention
// kernel. Keys are stored after RoPE; values as produced. Storage is f16 by
// default, bf16 or q8_0 on request (--cache-type).
// Not thread-safe: one session owns it.
#pragma once

#include <cstdint>
#include <vector>

#include "simd/attention.h"

namespace skv {

// Entries per block: every KV head's entries [b * kKvBlockSlots, ...) live
// in one allocation, so blocks can be freed (and later moved to disk) one at
// a time while the attention kernel still streams whole key tiles.
constexpr int64_t kKvBlockSlots = 256;

class LayerKv {
 public:
  // type: IsKvCacheType (q8_0 needs head dims that are multiples of 32).
  LayerKv(int64_t n_kv_heads, int64_t head_dim, int64_t head_dim_v,
          GgmlType type = GgmlType::kF16);
  LayerKv(const LayerKv& other);
  LayerKv& operator=(const LayerKv& other);
  LayerKv(LayerKv&&) = default;
  LayerKv& operator=(LayerKv&&) = default;

  // Ensures room for `slots` entries per head (adds blocks; never moves
  // existing entries).
  void Reserve(int64_t slots);
  // Appends T entries to every head: k [T][n_kv_heads][head_dim],
  // v [T][n_kv_heads][head_dim_v] (f32, converted to the cache type), pos [T].
  void Append(const float* k, const float* v, const int32_t* pos, int64_t T);
  // Drops every entry (keeps the blocks).
  void Clear() { length_ = 0; }
  // Drops the leading full blocks whose entries all sit at positions below
  // `keep_from` in every head (a sliding-window layer's entries that no later
  // query can see), moving their storage to the end for reuse: memory stays
  // bounded by the window however long the sequence. Needs each head's
  // positions ascending by slot (appends and Compact keep them so). Slot
  // indices of the remaining entries shift down; returns the blocks dropped.
  int64_t DropLeadingBlocks(int32_t keep_from);
  // Keeps, for each KV head g, the entries keep[g] (ascending slot indices,
  // the same count for every head) in new blocks sized for that count plus
  // `extra_slots`; the old blocks are freed, so evicted entries really go.
  void Compact(const std::vector<std::vector<int32_t>>& keep,
               int64_t extra_slots);

  // Persistence (runtime/session_state.h). ExportHead copies head g's
  // entries as stored: k [length][k_units()], v [length][v_units()] 16-bit
  // units (f16, bf16 or q8_0 bytes), pos [length]. ImportEntries replaces
  // every entry with n stored rows per head, k [n_kv_heads][n][k_units()],
  // v [n_kv_heads][n][v_units()], pos [n_kv_heads][n], in blocks with room
  // for `extra_slots` more.
  void ExportHead(int64_t g, uint16_t* k, uint16_t* v, int32_t* pos) const;
  void ImportEntries(int64_t n, const uint16_t* k, const uint16_t* v,
                     const int32_t* pos, int64_t extra_slots);
  int64_t k_units() const { return k_units_; }
  int64_t v_units() const { return v_units_; }
  int64_t head_dim() const { return head_dim_; }
  int64_t head_dim_v() const { return head_dim_v_; }

  KvView View() const;
  // Original positions of head g's entries, [length].
  std::vector<int32_t> Positions(int64_t g) const;
  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }
  int64_t n_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  int64_t n_kv_heads() const { return n_kv_heads_; }
  GgmlType type() const { return type_; }
  // Bytes of live entries (keys, values and positions).
  int64_t live_bytes() const;
  // Bytes one entry takes across the layer's KV heads.
  int64_t bytes_per_entry() const;
  int64_t reserved_bytes() const;

 private:
  struct Block {
    std::vector<uint16_t> k;   // [n_kv_heads][kKvBlockSlots][k_units_]
    std::vector<uint16_t> v;   // [n_kv_heads][kKvBlockSlots][v_units_]
    std::vector<int32_t> pos;  // [n_kv_heads][kKvBlockSlots]
  };
  Block NewBlock() const;
  void RebuildRefs();
  int64_t n_kv_heads_, head_dim_, head_dim_v_;
  GgmlType type_;
  int64_t k_units_, v_units_;  // KvRowUnits(type_, head_dim_ / head_dim_v_)
  int64_t capacity_ = 0;  // slots per head (blocks * kKvBlockSlots)
  int64_t length_ = 0;    // live slots per head
  std::vector<Block> blocks_;
  std::vector<KvBlockRef> refs_;  // [blocks] what View() hands out
};

class KvStore {
 public:
  KvStore(int64_t n_layers, int64_t n_kv_heads, int64_t head_dim,
          int64_t head_dim_v, GgmlType type = GgmlType::kF16);
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
