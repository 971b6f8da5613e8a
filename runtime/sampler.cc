#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace skv {

int32_t Argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (int32_t i = 1; i < static_cast<int32_t>(logits.size()); ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return best;
}

StatusOr<Sampler> Sampler::Create(const SamplerOptions& o) {
  if (o.top_p <= 0.f || std::isnan(o.top_p)) {
    return Status::Error("--top-p must be in (0, 1], got " + std::to_string(o.top_p));
  }
  if (o.min_p < 0.f || o.min_p > 1.f || std::isnan(o.min_p)) {
    return Status::Error("--min-p must be in [0, 1], got " + std::to_string(o.min_p));
  }
  if (std::isnan(o.temperature)) {
    return Status::Error("--temp must be a number");
  }
  return Sampler(o);
}

int32_t Sampler::Sample(std::span<const float> logits) {
  if (options_.temperature <= 0.f) return Argmax(logits);
  const int32_t n = static_cast<int32_t>(logits.size());
  candidates_.resize(n);
  for (int32_t i = 0; i < n; ++i) candidates_[i] = {logits[i], i};
  // Highest logit first; ties by lower id for determinism.
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  int32_t keep = n;
  if (options_.top_k > 0 && options_.top_k < n) {
    keep = options_.top_k;
    std::partial_sort(candidates_.begin(), candidates_.begin() + keep,
                      candidates_.end(), by_logit);
  } else {
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
  }
  candidates_.resize(keep);
  // Probabilities at temperature 1 for the top-p / min-p filters.
  std::vector<double> p(keep);  // [keep]
  double sum = 0;
  for (int32_t i = 0; i < keep; ++i) {
    p[i] = std::exp(static_cast<double>(candidates_[i].first - candidates_[0].first));
    sum += p[i];
  }
  if (options_.top_p < 1.f) {
    double cum = 0;
    for (int32_t i = 0; i < keep; ++i) {
      cum += p[i] / sum;
      if (cum >= options_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  if (options_.min_p > 0.f) {
    // p[0] is the largest; keep tokens with p >= min_p * p_max.
    int32_t i = 1;
    while (i < keep && p[i] >= options_.min_p * p[0]) ++i;
    keep = i;
  }
  std::vector<double> w(keep);  // [keep] weights at the temperature
  for (int32_t i = 0; i < keep; ++i) {
    w[i] = std::exp(static_cast<double>(candidates_[i].first - candidates_[0].first) /
                    options_.temperature);
  }
  std::discrete_distribution<int32_t> dist(w.begin(), w.end());
  return candidates_[dist(rng_)].second;
}

}  // namespace skv
