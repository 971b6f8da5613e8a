#include "runtime/session.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "base/check.h"
#include "models/transformer.h"

namespace skv {

Session::Session(const Model& model, const SessionOptions& options)
    : model_(&model),
      options_(options),
      kv_(model.config().n_layers, model.config().n_kv_heads,
          model.config().head_dim, model.config().head_dim_v, options.kv_type) {}

StatusOr<GgmlType> ParseKvCacheType(const std::string& name) {
  for (const GgmlType t : {GgmlType::kF16, GgmlType::kBF16, GgmlType::kQ8_0}) {
    if (name == GetGgmlType(t).name) return t;
  }
  return Status::Error("--cache-type '" + name + "': unknown KV cache type; valid: f16, bf16, q8_0");
}

StatusOr<Session> Session::Create(const Model& model,
                                  const SessionOptions& options) {
  if (options.n_ctx <= 0) {
    return Status::Error("-c/--ctx-size must be > 0, got " +
                         std::to_string(options.n_ctx));
  }
  if (options.n_batch <= 0) {
    return Status::Error("-b/--batch-size must be > 0, got " +
                         std::to_string(options.n_batch));
  }
  if (!IsKvCacheType(options.kv_type)) {
    return Status::Error(std::string("--cache-type ") + GetGgmlType(options.kv_type).name +
                         ": not a KV cache type; valid: f16, bf16, q8_0");
  }
  const ModelConfig& c = model.config();
  if (options.kv_type == GgmlType::kQ8_0 && (c.head_dim % 32 != 0 || c.head_dim_v % 32 != 0)) {
    return Status::Error("--cache-type q8_0 needs head dimensions that are multiples of 32; " +
                         std::string("this model has ") + std::to_string(c.head_dim) + " / " +
                         std::to_string(c.head_dim_v) + " (use f16 or bf16)");
  }
  Session session(model, options);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const int64_t window = c.layers[l].sliding_window;
    // A trimmed sliding layer holds at most window - 1 old entries plus one
    // batch, plus the block being filled.
    const int64_t slots = options.trim_sliding_window && window > 0
                              ? std::min(options.n_ctx, window + options.n_batch + kKvBlockSlots)
                              : options.n_ctx;
    session.kv_.layer(l).Reserve(slots);
  }
  return session;
}

Status Session::Evaluate(std::span<const int32_t> tokens, bool all_logits,
                         std::vector<float>* logits,
                         const AttentionProbe* probe) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t n_vocab = model_->config().n_vocab;
  if (n_past_ + n > options_.n_ctx) {
    return Status::Error("context full: " + std::to_string(n_past_) + " + " +
                         std::to_string(n) + " tokens exceed -c/--ctx-size " +
                         std::to_string(options_.n_ctx));
  }
  for (int64_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= n_vocab) {
      return Status::Error("token id " + std::to_string(tokens[i]) +
                           " at index " + std::to_string(i) +
                           " is outside the vocabulary [0, " +
                           std::to_string(n_vocab) + ")");
    }
  }
  if (logits != nullptr) logits->assign((all_logits ? n : 1) * n_vocab, 0.f);
  for (int64_t b = 0; b < n; b += options_.n_batch) {
    const int64_t T = std::min(options_.n_batch, n - b);
    if (options_.trim_sliding_window) DropInvisibleBlocks();
    std::vector<int32_t> pos(T);  // [T] original positions
    std::iota(pos.begin(), pos.end(), static_cast<int32_t>(n_past_));
    std::vector<int64_t> rows;
    float* out = nullptr;
    if (logits != nullptr && all_logits) {
      rows.resize(T);
      std::iota(rows.begin(), rows.end(), 0);
      out = logits->data() + b * n_vocab;
    } else if (logits != nullptr && b + T == n) {
      rows.push_back(T - 1);
      out = logits->data();
    }
    Forward(*model_, tokens.subspan(b, T), pos, kv_, rows, out, probe);
    n_past_ += T;
  }
  return Status::Ok();
}

Status Session::EvaluateAsOneBatch(std::span<const int32_t> tokens,
                                   const AttentionProbe* probe) {
  // Each layer still runs in n_batch-row chunks (AttentionProbe::layer_chunk),
  // so the GEMMs and attention compute as the batched Evaluate does.
  AttentionProbe chunked = probe != nullptr ? *probe : AttentionProbe{};
  chunked.layer_chunk = options_.n_batch;
  const int64_t saved = options_.n_batch;
  options_.n_batch = std::max<int64_t>(saved, static_cast<int64_t>(tokens.size()));
  const Status status = Evaluate(tokens, false, nullptr, &chunked);
  options_.n_batch = saved;
  return status;
}

void Session::DropInvisibleBlocks() {
  const ModelConfig& c = model_->config();
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const int64_t window = c.layers[l].sliding_window;
    // The next query sits at n_past_ and sees keys at positions > n_past_ - window.
    if (window > 0 && n_past_ - window + 1 > 0) {
      kv_.layer(l).DropLeadingBlocks(static_cast<int32_t>(n_past_ - window + 1));
    }
  }
}

void Session::CompactKv(const std::vector<LayerKeep>& keep, int64_t extra_slots) {
  SKV_CHECK(static_cast<int64_t>(keep.size()) == kv_.n_layers());
  for (int64_t l = 0; l < kv_.n_layers(); ++l) {
    kv_.layer(l).Compact(keep[l], extra_slots);
  }
}

void Session::Reset() {
  kv_.Clear();
  n_past_ = 0;
}

}  // namespace skv
