// A loaded model: the mapped GGUF file, its config, weight views and
// tokenizer. Immutable after Load(); shareable across threads and sessions.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "models/gguf.h"
#include "models/model_config.h"
#include "models/tokenizer.h"
#include "models/weights.h"

namespace skv {

class Model {
 public:
  // Errors name the file and the missing or malformed key or tensor.
  static StatusOr<std::unique_ptr<Model>> Load(const std::string& path);

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const GgufFile& file() const { return *file_; }
  // Bytes of all tensors the forward pass reads.
  int64_t weight_bytes() const { return weight_bytes_; }

 private:
  Model() = default;
  Status BindWeights();

  std::unique_ptr<GgufFile> file_;
  ModelConfig config_;
  ModelWeights weights_;
  std::unique_ptr<Tokenizer> tokenizer_;
  int64_t weight_bytes_ = 0;
};

}  // namespace skv
