// Token sampling from next-token logits. The chain follows llama.cpp's
// default order: top-k -> top-p -> min-p -> temperature -> draw. A
// temperature <= 0 means greedy (argmax, lowest id on ties).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "base/status.h"

namespace skv {

struct SamplerOptions {
  float temperature = 0.8f;
  int32_t top_k = 40;     // <= 0: disabled
  float top_p = 0.95f;    // >= 1: disabled
  float min_p = 0.05f;    // <= 0: disabled
  uint64_t seed = 0xC0FFEE;
};

class Sampler {
 public:
  // Errors name the flag (--top-p, --min-p, ...) for impossible values.
  static StatusOr<Sampler> Create(const SamplerOptions& options);
  int32_t Sample(std::span<const float> logits);

 private:
  explicit Sampler(const SamplerOptions& options)
      : options_(options), rng_(options.seed) {}
  SamplerOptions options_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;  // [n_vocab] scratch
};

// Index of the largest value, lowest index on ties.
int32_t Argmax(std::span<const float> logits);

}  // namespace skv
