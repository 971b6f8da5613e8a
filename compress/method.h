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
  // Layer after which to prune (>= 0), or kPivotDefault (the method's own:
  // auto for structkv, the depth-scaled layer for fastkv), or kPivotAuto
  // (online detection, structkv only). `calibrated` is resolved by the
  // runtime (runtime/pivot_cache.h) into a fixed layer or auto.
  int64_t pivot = -1;
  double lambda = 0.9;       // centrality decay (structkv)
  // Compute the pivot metrics at every layer even with a fixed pivot, so
  // that --verbose can print them (costs a little prefill time).
  bool pivot_metrics = false;
  // Probe queries of kProbeMax methods (kvcompose): the last N queries of
  // the prompt; 0: every query.
  int64_t probe_queries = 64;
};

constexpr int64_t kPivotDefault = -1;
constexpr int64_t kPivotAuto = -2;

// Attention statistics a method consumes.
enum class ScoreSource {
  kNone,        // positions only (full, streamingllm, random)
  kWindow,      // attention mass from the last `window` queries (SnapKV family)
  kAllQueries,  // attention mass from every query (H2O's accumulated attention)
  kProbeMax,    // max probability from the last probe_queries queries (KVCompose)
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
  // > 0: the layer attends to that many most recent positions only (Gemma 3's
  // local layers); its window rows cannot see the rest of the document.
  int64_t sliding_window = 0;
  const float* scores = nullptr;  // [n_heads][n]; null for kNone
  // Original positions of the layer's entries [n] (the same for every head
  // before compaction); null means entry j sits at position j.
  const int32_t* positions = nullptr;
  // Per-row probabilities of the window rows, when wants_window_rows():
  // rows[h][i][j] for window row i of window_rows.
  int64_t window_rows = 0;
  const float* rows = nullptr;        // [n_heads][window_rows][n]
  // The last query's scaled scores before the softmax (GemFilter's filter
  // layer only); -inf where it sees nothing.
  const float* last_logits = nullptr;  // [n_heads][n]
};

// StructKV's pivot detection, per layer (docs/method.md section 1).
struct LayerPivotMetrics {
  int64_t layer = 0;
  bool measured = false;  // false: sliding-window layer, metrics carried over
  double entropy = 0, sparsity = 0, variance = 0;
  double transition = 0;  // T_l
};
struct PropagationTrace {
  int64_t pivot = -1;           // layer after which the stream was cut; -1: none
  const char* pivot_rule = "";  // "fixed", "auto: ...", ...
  int64_t skeleton = 0;         // rows that continued past the pivot
  std::vector<LayerPivotMetrics> layers;  // layers seen up to the pivot
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
  // Whether PropagationRows wants LayerScores::rows (pivot metrics).
  virtual bool wants_window_rows() const { return false; }
  // What the last prefill decided (pivot, metrics); null if not propagating.
  virtual const PropagationTrace* propagation_trace() const { return nullptr; }

  // Token filtering (GemFilter): a method returning a layer >= 0 gets the
  // prompt run up to that layer, FilterTokens picks the token indices to
  // keep (ascending) from its last_logits, and the runtime prefills only
  // those tokens through the whole model, at positions 0..k-1.
  // sliding_windows: [n_layers] each layer's window (0: full attention).
  virtual int64_t FilterLayer(const std::vector<int64_t>& sliding_windows) const {
    return -1;
  }
  virtual std::vector<int32_t> FilterTokens(const LayerScores& layer) const {
    return {};
  }

  // Selection over all layers at once, for methods with cross-layer budgets
  // (KVCompose); by default each layer on its own.
  virtual std::vector<LayerKeep> SelectLayers(
      const std::vector<LayerScores>& layers) const {
    std::vector<LayerKeep> keep;
    for (const LayerScores& l : layers) keep.push_back(Select(l));
    return keep;
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
std::unique_ptr<KvMethod> CreateGemFilterMethod(const MethodOptions& options);
std::unique_ptr<KvMethod> CreateKvComposeMethod(const MethodOptions& options);

// FastKV's propagation layer scaled by depth (15 of 32 on Llama-3.1-8B).
int64_t DefaultPivotLayer(int64_t n_layers);

}  // namespace skv
