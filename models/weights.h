// Views of the model's tensors inside the memory-mapped GGUF file: weights stay
// in their stored (quantised) format and are decoded inside kernels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "simd/ggml_types.h"

namespace skv {

// A 1-D or 2-D tensor; rows are the outer (ggml ne[1]) dimension.
struct WeightTensor {
  const void* data = nullptr;  // nullptr when an optional tensor is absent
  GgmlType type = GgmlType::kF32;
  int64_t cols = 0;       // ne[0]: contiguous (input) dimension
  int64_t rows = 1;       // ne[1]: output dimension for matrices
  int64_t row_bytes = 0;  // bytes per row
  std::string name;

  bool present() const { return data != nullptr; }
  // f32 vectors (norm weights, biases) are read directly.
  const float* f32() const { return static_cast<const float*>(data); }
};

struct LayerWeights {
  WeightTensor attn_norm;       // [n_embd]
  WeightTensor wq, wk, wv;      // [q_dim|kv_dim][n_embd]
  WeightTensor bq, bk, bv;      // optional biases [q_dim|kv_dim]
  WeightTensor q_norm, k_norm;  // optional [head_dim]
  WeightTensor wo;              // [n_embd][q_dim]
  WeightTensor post_attn_norm;  // optional [n_embd]
  WeightTensor ffn_norm;        // [n_embd]
  WeightTensor w_gate, w_up;    // [n_ff][n_embd]
  WeightTensor w_down;          // [n_embd][n_ff]
  WeightTensor post_ffn_norm;   // optional [n_embd]
};

struct ModelWeights {
  WeightTensor token_embd;   // [n_vocab][n_embd]
  WeightTensor output_norm;  // [n_embd]
  WeightTensor output;       // [n_vocab][n_embd]; = token_embd when tied
  WeightTensor rope_freqs;   // optional [head_dim/2] (llama3 rope scaling)
  std::vector<LayerWeights> layers;
};

}  // namespace skv
