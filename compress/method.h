// KV-cache compression methods behind one interface, in one registry.
//
// Most methods only score the entries of a layer; the shared selection in
// compress/selection.h keeps each KV head's top entries plus the observation
// window (kvpress's "scorer press" idea). A method declares which attention
// statistics it needs; the runtime collects them from the attention kernel
// during prefill (no extra pass over the keys) and hands them over per layer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace skv {

// How much to keep: a fraction of the prompt's entries, or an absolute count
// (tokens > 0 wins). The count includes the observation window.
struct KvBudget {
  double ratio = 0.1;
  int64_t tokens = 0;
  // Entries to keep out of n (at least min(n, floor), at most n).
  int64_t Entries(int64_t n, int64_t floor) const;
};

enum class PoolKind { kNone, kMax, kAvg };

struct MethodOptions {
  KvBudget budget;
  int64_t window = 8;  // last prompt positions: always kept, never compete
  PoolKind pool = PoolKind::kMax;
  int64_t pool_kernel = 7;
  uint64_t seed = 0;   // for `random`
  // Structural propagation (fastkv, structkv).
  double struct_rate = 0.2;  // fraction of the prompt that continues past the pivot
  int64_t pivot = -1;        // layer after which to prune; -1: scaled default
  double lambda = 0.9;       // centrality decay (structkv)
};

// Attention statistics a method consumes.
enum class ScoreSource {
  kNone,        // positions only (full, streamingllm, random)
  kWindow,      // attention mass from the last `window` queries (SnapKV family)
  kAllQueries,  // attention mass from every query (H2O's accumulated attention)
};

// What a method sees of one layer after prefill. Scores sum the softmax
// probabilities each query head gave each entry over the requested queries.
struct LayerScores {
  int64_t layer = 0;
  int64_t n_layers = 0;
  int64_t n = 0;            // entries per KV head at this layer
  int64_t prompt = 0;       // prompt length N (budgets are fractions of N); 0: n
  int64_t prompt_length() const { return prompt > 0 ? prompt : n; }
  int64_t n_heads = 0;      // query heads
  int64_t n_kv_heads = 0;
  const float* scores = nullptr;  // [n_heads][n]; null for kNone
};

// Kept entries of one layer: keep[g] lists KV head g's entry indices in
// ascending order; every head keeps the same count (dense layers).
using LayerKeep = std::vector<std::vector<int32_t>>;

class KvMethod {
 public:
  explicit KvMethod(const MethodOptions& options) : options_(options) {}
  virtual ~KvMethod() = default;
  virtual const char* name() const = 0;
  virtual ScoreSource scores_needed() const = 0;
  virtual LayerKeep Select(const LayerScores& layer) const = 0;
  const MethodOptions& options() const { return options_; }

  // Structural propagation. Methods that prune the residual stream during
  // prefill return true; the runtime then prefills the prompt in one batch,
  // layer by layer, and after each layer asks PropagationRows (with that
  // layer's window scores) which entries continue: empty keeps all. Calls
  // come in layer order; BeginPrefill resets per-prompt state.
  virtual bool propagates() const { return false; }
  virtual void BeginPrefill(int64_t n_layers) {}
  virtual std::vector<int32_t> PropagationRows(const LayerScores& layer) {
    return {};
  }

 protected:
  MethodOptions options_;
};

struct MethodInfo {
  const char* name;
  const char* summary;
  std::unique_ptr<KvMethod> (*create)(const MethodOptions& options);
};

// Every registered method, in one table (compress/registry.cc).
const std::vector<MethodInfo>& KvMethods();
std::string KvMethodNames();  // "full, random, ..."

// Errors name --kv and list the methods, or name the impossible option.
StatusOr<std::unique_ptr<KvMethod>> CreateKvMethod(const std::string& name,
                                                   const MethodOptions& options);

// Per-method factories (one file each).
std::unique_ptr<KvMethod> CreateFullMethod(const MethodOptions& options);
std::unique_ptr<KvMethod> CreateRandomMethod(const MethodOptions& options);
std::unique_ptr<KvMethod> CreateStreamingLlmMethod(const MethodOptions& options);
std::unique_ptr<KvMethod> CreateSnapKvMethod(const MethodOptions& options);
std::unique_ptr<KvMethod> CreatePyramidKvMethod(const MethodOptions& options);
std::unique_ptr<KvMethod> CreateH2oMethod(const MethodOptions& options);
std::unique_ptr<KvMethod> CreateFastKvMethod(const MethodOptions& options);
std::unique_ptr<KvMethod> CreateStructKvMethod(const MethodOptions& options);

// FastKV's propagation layer scaled by depth (15 of 32 on Llama-3.1-8B).
int64_t DefaultPivotLayer(int64_t n_layers);

}  // namespace skv
