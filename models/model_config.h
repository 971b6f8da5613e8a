// Hyper-parameters of a decoder-only transformer read from GGUF metadata, with
// a per-layer view (sliding window, RoPE) so heterogeneous stacks such as
// Gemma 3's interleaved local/global layers need no special cases downstream.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "simd/ops.h"

namespace skv {

enum class FfnActivation { kSilu, kGeluTanh };

struct LayerConfig {
  bool sliding = false;        // local attention layer
  int64_t sliding_window = 0;  // keys visible: qpos - kpos < window (0: all)
  RopeParams rope;             // freq_factors points into ModelWeights
};

struct ModelConfig {
  std::string architecture;  // general.architecture
  std::string name;          // general.name (may be empty)
  int64_t n_layers = 0;
  int64_t n_embd = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;    // key/query head size
  int64_t head_dim_v = 0;  // value head size
  int64_t n_ff = 0;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  float norm_eps = 1e-5f;
  float attn_scale = 0.f;     // query scale (1/sqrt(head_dim) by default)
  float embd_scale = 1.f;     // token embeddings are multiplied by this
  float attn_softcap = 0.f;   // 0: none
  float final_softcap = 0.f;  // 0: none
  bool qkv_bias = false;      // Qwen2
  bool qk_norm = false;       // per-head RMSNorm of q and k (Gemma 3)
  bool post_norms = false;    // norms after attention and FFN (Gemma 2/3)
  FfnActivation activation = FfnActivation::kSilu;
  std::vector<LayerConfig> layers;  // [n_layers]

  int64_t q_dim() const { return n_heads * head_dim; }
  int64_t kv_dim() const { return n_kv_heads * head_dim; }
  int64_t v_dim() const { return n_kv_heads * head_dim_v; }
};

}  // namespace skv
