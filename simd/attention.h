// Causal attention of a block of queries against a KV set whose entries carry
// their original positions (so pruned and per-head token sets work the same
// way as a full cache). Keys and values are stored as IEEE f16 bits.
#pragma once

#include <cstdint>

namespace skv {

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

struct KvView {
  const uint16_t* k = nullptr;    // [n_kv_heads][head_stride][head_dim] f16
  const uint16_t* v = nullptr;    // [n_kv_heads][head_stride][head_dim] f16
  const int32_t* pos = nullptr;   // [n_kv_heads][head_stride] original positions
  int64_t n = 0;                  // valid entries per KV head
  int64_t head_stride = 0;        // slots per KV head (>= n)
};

// Optional by-product of Attention: window saliency (docs/method.md section
// 0). For the last `window` queries (index t >= n_q - window), scores[h][j]
// receives sum_t a[h](t, j): the normalised attention probability of query
// head h's row t on KV slot j of head g(h), summed over those rows. Slots no
// window row sees get 0. scores: [n_heads][kv.n], overwritten.
struct WindowSaliency {
  int64_t window = 0;
  float* scores = nullptr;  // [n_heads][kv.n]
};

// out[t][h][:] = softmax_j(scale * q[t][h] . k[g(h)][j]) @ v[g(h)][j] over the
// visible keys, with g(h) = h / (n_heads / n_kv_heads).
// q: [n_q][n_heads][head_dim] (already RoPE'd); q_pos: [n_q];
// out: [n_q][n_heads][head_dim]. A query with no visible key gets zeros.
// Multithreaded over (query block, head) via base/parallel.h. Streams over the
// keys once with an online softmax (flash-attention style); `saliency`, when
// given, costs one more pass over the keys for the window rows only.
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
