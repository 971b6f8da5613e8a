// The `gemma3` family (text): interleaved sliding-window (local) and global
// layers, each with its own RoPE base; per-head RMSNorm of q and k; norms
// before and after both attention and FFN; GeGLU with tanh GELU; embeddings
// scaled by sqrt(n_embd); tied output embeddings. The GGUF converter already
// folds Gemma's (1 + w) norm weights into w.
#include <cmath>

#include "models/architecture.h"

namespace skv {
namespace {
// Every sixth layer is global unless the file says otherwise.
constexpr uint64_t kDefaultSlidingPattern = 6;
// Local layers use this RoPE base unless the file says otherwise.
constexpr float kDefaultLocalRopeBase = 10000.f;
}  // namespace

Status LoadGemma3Config(const GgufFile& file, ModelConfig* config) {
  SKV_RETURN_IF_ERROR(
      LoadCommonConfig(file, config, RopeParams::Style::kNeox));
  const std::string& a = config->architecture;
  config->activation = FfnActivation::kGeluTanh;
  config->qk_norm = true;
  config->post_norms = true;
  config->embd_scale = std::sqrt(static_cast<float>(config->n_embd));
  // Gemma 3 27B scales queries by 1/sqrt(n_embd / n_heads) (its
  // query_pre_attn_scalar); the other sizes by 1/sqrt(head_dim).
  if (config->n_layers == 62) {
    config->attn_scale = 1.0f / std::sqrt(static_cast<float>(
                                    config->n_embd / config->n_heads));
  }
  SKV_ASSIGN_OR_RETURN(uint64_t window,
                       file.GetUintOr(a + ".attention.sliding_window", 0));
  SKV_ASSIGN_OR_RETURN(
      uint64_t pattern,
      file.GetUintOr(a + ".attention.sliding_window_pattern",
                     kDefaultSlidingPattern));
  SKV_ASSIGN_OR_RETURN(
      float local_base,
      file.GetF32Or(a + ".rope.freq_base_swa", kDefaultLocalRopeBase));
  if (window == 0) {
    return Status::Error(file.path() + ": missing required metadata key '" +
                         a + ".attention.sliding_window'");
  }
  if (pattern == 0) {
    return Status::Error(file.path() + ": " + a +
                         ".attention.sliding_window_pattern must be > 0");
  }
  for (int64_t l = 0; l < config->n_layers; ++l) {
    LayerConfig& layer = config->layers[l];
    layer.sliding = (static_cast<uint64_t>(l) + 1) % pattern != 0;
    if (layer.sliding) {
      layer.sliding_window = static_cast<int64_t>(window);
      // Local layers use the training RoPE base without long-context scaling.
      layer.rope.freq_base = local_base;
      layer.rope.freq_scale = 1.f;
      layer.rope.ext_factor = 0.f;
    }
  }
  return Status::Ok();
}

}  // namespace skv
