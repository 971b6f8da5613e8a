#include "models/architecture.h"

#include <cmath>
#include <string>

namespace skv {
namespace {

std::string Key(const ModelConfig& c, const char* suffix) {
  return c.architecture + "." + suffix;
}

// Integer metadata that must be a scalar (llama.cpp also allows per-layer
// arrays for some keys; no supported family needs them).
Status ReadScalarDim(const GgufFile& file, const std::string& key,
                     bool required, int64_t def, int64_t* out) {
  const GgufValue* v = file.Find(key);
  if (v == nullptr) {
    if (required) {
      return Status::Error(file.path() + ": missing required metadata key '" +
                           key + "'");
    }
    *out = def;
    return Status::Ok();
  }
  if (v->type == GgufValueType::kArray) {
    return Status::Error(file.path() + ": metadata key '" + key +
                         "' is a per-layer array; StructKV supports only a "
                         "single value for every layer");
  }
  SKV_ASSIGN_OR_RETURN(uint64_t value, file.GetUint(key));
  if (value == 0 || value > (1ull << 31)) {
    return Status::Error(file.path() + ": metadata key '" + key +
                         "' has an impossible value " + std::to_string(value));
  }
  *out = static_cast<int64_t>(value);
  return Status::Ok();
}

}  // namespace

const std::vector<ArchitectureFamily>& Architectures() {
  static const std::vector<ArchitectureFamily> kFamilies = {
      {"llama",
       "Llama 2 / 3 / 3.1 / 3.2, Mistral, TinyLlama, SmolLM (rope scaling: "
       "linear, yarn, llama3)",
       LoadLlamaConfig},
      {"qwen2", "Qwen2 / Qwen2.5 (QKV bias)", LoadQwen2Config},
      {"gemma3", "Gemma 3 text models (sliding-window + global layers)",
       LoadGemma3Config},
  };
  return kFamilies;
}

StatusOr<const ArchitectureFamily*> FindArchitecture(const GgufFile& file,
                                                     const std::string& name) {
  std::string supported;
  for (const auto& f : Architectures()) {
    if (name == f.name) return &f;
    supported += std::string(supported.empty() ? "" : ", ") + f.name;
  }
  return Status::Error(file.path() + ": architecture '" + name +
                       "' (general.architecture) is not supported; supported: " +
                       supported);
}

Status LoadCommonConfig(const GgufFile& file, ModelConfig* c,
                        RopeParams::Style rope_style) {
  SKV_RETURN_IF_ERROR(ReadScalarDim(file, Key(*c, "block_count"), true, 0,
                                    &c->n_layers));
  SKV_RETURN_IF_ERROR(ReadScalarDim(file, Key(*c, "embedding_length"), true, 0,
                                    &c->n_embd));
  SKV_RETURN_IF_ERROR(ReadScalarDim(file, Key(*c, "feed_forward_length"), true,
                                    0, &c->n_ff));
  SKV_RETURN_IF_ERROR(ReadScalarDim(file, Key(*c, "attention.head_count"),
                                    true, 0, &c->n_heads));
  SKV_RETURN_IF_ERROR(ReadScalarDim(file, Key(*c, "attention.head_count_kv"),
                                    false, c->n_heads, &c->n_kv_heads));
  if (c->n_embd % c->n_heads != 0 && !file.Find(Key(*c, "attention.key_length"))) {
    return Status::Error(file.path() + ": embedding_length " +
                         std::to_string(c->n_embd) +
                         " is not a multiple of head_count " +
                         std::to_string(c->n_heads));
  }
  SKV_RETURN_IF_ERROR(ReadScalarDim(file, Key(*c, "attention.key_length"),
                                    false, c->n_embd / c->n_heads,
                                    &c->head_dim));
  SKV_RETURN_IF_ERROR(ReadScalarDim(file, Key(*c, "attention.value_length"),
                                    false, c->head_dim, &c->head_dim_v));
  SKV_RETURN_IF_ERROR(ReadScalarDim(file, Key(*c, "context_length"), false,
                                    4096, &c->n_ctx_train));
  if (c->n_heads % c->n_kv_heads != 0) {
    return Status::Error(file.path() + ": attention.head_count " +
                         std::to_string(c->n_heads) +
                         " is not a multiple of attention.head_count_kv " +
                         std::to_string(c->n_kv_heads));
  }
  if (c->head_dim != c->head_dim_v) {
    return Status::Error(file.path() +
                         ": attention.key_length != attention.value_length is "
                         "not supported");
  }
  SKV_ASSIGN_OR_RETURN(uint64_t experts,
                       file.GetUintOr(Key(*c, "expert_count"), 0));
  if (experts > 0) {
    return Status::Error(file.path() + ": mixture-of-experts models (" +
                         Key(*c, "expert_count") + " = " +
                         std::to_string(experts) + ") are not supported");
  }
  SKV_ASSIGN_OR_RETURN(c->norm_eps,
                       file.GetF32Or(Key(*c, "attention.layer_norm_rms_epsilon"),
                                     1e-5f));
  c->attn_scale = 1.0f / std::sqrt(static_cast<float>(c->head_dim));

  RopeParams rope;
  rope.style = rope_style;
  SKV_ASSIGN_OR_RETURN(rope.freq_base,
                       file.GetF32Or(Key(*c, "rope.freq_base"), 10000.f));
  SKV_ASSIGN_OR_RETURN(uint64_t rot,
                       file.GetUintOr(Key(*c, "rope.dimension_count"),
                                      c->head_dim));
  if (rot == 0 || rot > static_cast<uint64_t>(c->head_dim) || rot % 2 != 0) {
    return Status::Error(file.path() + ": " + Key(*c, "rope.dimension_count") +
                         " = " + std::to_string(rot) +
                         " must be even and at most the head size " +
                         std::to_string(c->head_dim));
  }
  rope.rot_dim = static_cast<int64_t>(rot);
  SKV_ASSIGN_OR_RETURN(std::string scaling,
                       file.GetStringOr(Key(*c, "rope.scaling.type"), ""));
  // Older files give only a linear factor.
  SKV_ASSIGN_OR_RETURN(float linear,
                       file.GetF32Or(Key(*c, "rope.scale_linear"), 0.f));
  SKV_ASSIGN_OR_RETURN(float factor,
                       file.GetF32Or(Key(*c, "rope.scaling.factor"), 0.f));
  if (scaling.empty()) scaling = linear > 0.f ? "linear" : "none";
  if (factor <= 0.f) factor = linear > 0.f ? linear : 1.f;
  if (scaling == "none") {
    // Nothing to do.
  } else if (scaling == "linear") {
    rope.freq_scale = 1.0f / factor;
  } else if (scaling == "yarn") {
    rope.freq_scale = 1.0f / factor;
    rope.ext_factor = 1.0f;
    SKV_ASSIGN_OR_RETURN(uint64_t orig, file.GetUintOr(
        Key(*c, "rope.scaling.original_context_length"), c->n_ctx_train));
    rope.n_ctx_orig = static_cast<int64_t>(orig);
    SKV_ASSIGN_OR_RETURN(rope.beta_fast,
                         file.GetF32Or(Key(*c, "rope.scaling.yarn_beta_fast"), 32.f));
    SKV_ASSIGN_OR_RETURN(rope.beta_slow,
                         file.GetF32Or(Key(*c, "rope.scaling.yarn_beta_slow"), 1.f));
  } else {
    return Status::Error(file.path() + ": rope scaling type '" + scaling +
                         "' (" + Key(*c, "rope.scaling.type") +
                         ") is not supported; supported: none, linear, yarn, "
                         "llama3 (rope_freqs tensor)");
  }
  if (rope.n_ctx_orig == 0) rope.n_ctx_orig = c->n_ctx_train;
  c->layers.assign(c->n_layers, LayerConfig{});
  for (auto& layer : c->layers) layer.rope = rope;
  return Status::Ok();
}

}  // namespace skv
