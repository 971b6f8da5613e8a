// The `qwen2` family: Qwen2 / Qwen2.5. Llama-like blocks with biases on the
// Q, K and V projections and RoPE on rotated halves (NeoX style).
#include "models/architecture.h"

namespace skv {

Status LoadQwen2Config(const GgufFile& file, ModelConfig* config) {
  SKV_RETURN_IF_ERROR(
      LoadCommonConfig(file, config, RopeParams::Style::kNeox));
  config->activation = FfnActivation::kSilu;
  config->qkv_bias = true;
  return Status::Ok();
}

}  // namespace skv
