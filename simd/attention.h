// Causal attention of a block of queries against a KV set whose entries carry
// their original positions (so pruned and per-head token sets work the same
// way as a full cache). Keys and values are stored as f16 (the default),
// bf16 or q8_0 rows (KvView::type).
#pragma once

#include <cstdint>

#include "simd/ggml_types.h"

namespace skv {

// The KV cache types the kernel reads: f16, bf16, or q8_0 (blocks of 32
// int8 with an f16 scale, 34 bytes; the row length must be a multiple of 32).
bool IsKvCacheType(GgmlType type);
// A row of `dim` elements of `type` in uint16 units (q8_0's 34-byte blocks
// are 17 units), the stride the cache and the kernel use.
int64_t KvRowUnits(GgmlType type, int64_t dim);
// Writes x[0, n) as one cached row of `type` (KvRowUnits(type, n) units):
// f16 / bf16 rounded to nearest even, q8_0 quantised as ggml's
// quantize_row_q8_0 does. What the kernel reads back.
void StoreKvRow(GgmlType type, const float* x, uint16_t* dst, int64_t n);

struct AttentionShape {
  int64_t n_heads = 0;     // query heads
  int64_t n_kv_heads = 0;  // KV heads; n_heads % n_kv_heads == 0 (GQA)
  int64_t head_dim = 0;
};

struct AttentionMask {
  // A key at position kp is visible to a query at position qp when kp <= qp
  // and, if sliding_window > 0, qp - kp < sliding_window.
  int64_t sliding_window = 0;
  float softcap = 0.f;  // > 0: scores = softcap * tanh(scores / softcap)
};

// One fixed-size block of a blocked KV layer: entries [b * block_slots,
// (b + 1) * block_slots) of every KV head.
struct KvBlockRef {
  const uint16_t* k = nullptr;   // [n_kv_heads][block_slots][KvRowUnits(type, head_dim)]
  const uint16_t* v = nullptr;   // [n_kv_heads][block_slots][KvRowUnits(type, head_dim)]
  const int32_t* pos = nullptr;  // [n_kv_heads][block_slots]
};

// The entries of one layer. Either contiguous (k, v, pos with head_stride
// slots per head: tests, benchmarks) or blocked (blocks != null: the KV
// store, whose blocks can be freed or moved one by one). The kernel reads
// key tiles whose size divides block_slots, so a tile never straddles blocks.
struct KvView {
  // Rows of head_dim elements of `type`, KvRowUnits(type, head_dim) apart.
  const uint16_t* k = nullptr;    // [n_kv_heads][head_stride][row units]
  const uint16_t* v = nullptr;    // [n_kv_heads][head_stride][row units]
  const int32_t* pos = nullptr;   // [n_kv_heads][head_stride] original positions
  int64_t n = 0;                  // valid entries per KV head
  int64_t head_stride = 0;        // slots per KV head (>= n), contiguous only
  const KvBlockRef* blocks = nullptr;  // [ceil(n / block_slots)] or null
  int64_t block_slots = 0;             // a power of two >= 128 when blocked
  GgmlType type = GgmlType::kF16;      // of keys and values (IsKvCacheType)

  // Entry j of KV head g; entries j.. of the same block follow it, `units`
  // (KvRowUnits(type, head_dim)) apart.
  const uint16_t* Key(int64_t g, int64_t j, int64_t units) const {
    if (blocks == nullptr) return k + (g * head_stride + j) * units;
    return blocks[j / block_slots].k + (g * block_slots + j % block_slots) * units;
  }
  const uint16_t* Value(int64_t g, int64_t j, int64_t units) const {
    if (blocks == nullptr) return v + (g * head_stride + j) * units;
    return blocks[j / block_slots].v + (g * block_slots + j % block_slots) * units;
  }
  const int32_t* Pos(int64_t g, int64_t j) const {
    if (blocks == nullptr) return pos + g * head_stride + j;
    return blocks[j / block_slots].pos + g * block_slots + j % block_slots;
  }
};

// Optional by-product of Attention: window saliency (docs/method.md section
// 0). For the last `window` queries (index t >= n_q - window), scores[h][j]
// receives sum_t a[h](t, j): the normalised attention probability of query
// head h's row t on KV slot j of head g(h), summed over those rows. Slots no
// window row sees get 0. scores: [n_heads][kv.n], overwritten.
//
// Optional extras for the methods that need more than the summed mass:
// - reduce_max: scores[h][j] is the max over the window rows instead of the
//   sum (KVCompose's "max attention received from the probe queries").
// - rows: every window row's probabilities, rows[h][i][j] for window row i
//   (query n_q - window + i); invisible keys get 0 (StructKV's pivot
//   metrics: entropy and top-k mass per row).
// - last_logits: the last query's scaled (and softcapped) scores before the
//   softmax, last_logits[h][j]; invisible keys get -inf (GemFilter).
struct WindowSaliency {
  int64_t window = 0;
  float* scores = nullptr;       // [n_heads][kv.n]
  bool reduce_max = false;
  float* rows = nullptr;         // [n_heads][window][kv.n] or null
  float* last_logits = nullptr;  // [n_heads][kv.n] or null
};

// out[t][h][:] = softmax_j(scale * q[t][h] . k[g(h)][j]) @ v[g(h)][j] over the
// visible keys, with g(h) = h / (n_heads / n_kv_heads).
// q: [n_q][n_heads][head_dim] (already RoPE'd); q_pos: [n_q];
// out: [n_q][n_heads][head_dim]. A query with no visible key gets zeros.
// Multithreaded over (query block, head) via base/parallel.h. Tiled over the
// keys (flash-attention style): a first sweep builds each row's softmax max
// and sum online, a second turns scores into f16-rounded probabilities times
// V (llama.cpp's numerics). The first sweep's scores are kept for the second
// when they fit (4 MiB per work item), so K is read and multiplied once. `saliency`, when given, is captured in the second
// sweep of the blocks that hold the window rows: no extra pass over the keys.
// Results are bit-identical for any thread count.
void Attention(const AttentionShape& shape, const AttentionMask& mask,
               float scale, const float* q, const int32_t* q_pos, int64_t n_q,
               const KvView& kv, float* out,
               const WindowSaliency* saliency = nullptr);
// Two-pass scalar reference with an explicit softmax, for tests.
void AttentionRef(const AttentionShape& shape, const AttentionMask& mask,
                  float scale, const float* q, const int32_t* q_pos,
                  int64_t n_q, const KvView& kv, float* out,
                  const WindowSaliency* saliency = nullptr);

}  // namespace skv
