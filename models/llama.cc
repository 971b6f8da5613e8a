// The `llama` family: Llama 2 / 3 / 3.1 / 3.2, Mistral, TinyLlama, SmolLM.
// Pre-norm blocks, SwiGLU, RoPE on adjacent pairs (the GGUF converter permutes
// Q/K rows for that), llama3-style scaling through the rope_freqs tensor.
#include "models/architecture.h"

namespace skv {

Status LoadLlamaConfig(const GgufFile& file, ModelConfig* config) {
  SKV_RETURN_IF_ERROR(
      LoadCommonConfig(file, config, RopeParams::Style::kNorm));
  config->activation = FfnActivation::kSilu;
  return Status::Ok();
}

}  // namespace skv
