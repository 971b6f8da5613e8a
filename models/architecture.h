// The registry of supported architecture families, keyed by
// `general.architecture`. A family is a function that turns GGUF metadata
// into a ModelConfig (its file says everything that is special about it); the
// tensor names and the forward pass are shared. Adding a family = one file
// plus one row in the table in architecture.cc.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "models/gguf.h"
#include "models/model_config.h"

namespace skv {

struct ArchitectureFamily {
  const char* name;    // general.architecture
  const char* covers;  // models known to load through this family
  Status (*load_config)(const GgufFile& file, ModelConfig* config);
};

// Every supported family, in one table.
const std::vector<ArchitectureFamily>& Architectures();

// Error names the file and the architecture and lists the supported ones.
StatusOr<const ArchitectureFamily*> FindArchitecture(const GgufFile& file,
                                                     const std::string& name);

// Family entry points (one file each: llama.cc, qwen2.cc, gemma3.cc).
Status LoadLlamaConfig(const GgufFile& file, ModelConfig* config);
Status LoadQwen2Config(const GgufFile& file, ModelConfig* config);
Status LoadGemma3Config(const GgufFile& file, ModelConfig* config);

// Shared by the families: reads `{arch}.*` sizes, norm epsilon, RoPE base,
// dimension and scaling (none / linear / yarn; llama3-style frequency factors
// come from the optional rope_freqs tensor), and rejects features no family
// implements (mixture of experts, per-layer head counts) by name.
Status LoadCommonConfig(const GgufFile& file, ModelConfig* config,
                        RopeParams::Style rope_style);

}  // namespace skv
