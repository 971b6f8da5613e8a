// The one table of compression methods: the CLI, the tests and the
// benchmarks enumerate it.
#include <cmath>

#include "compress/method.h"

namespace skv {

const std::vector<MethodInfo>& KvMethods() {
  static const std::vector<MethodInfo> kMethods = {
      {"full", "keep every entry (uncompressed)", CreateFullMethod},
      {"random", "seeded random entries plus the window", CreateRandomMethod},
      {"streamingllm", "4 sink tokens plus the most recent", CreateStreamingLlmMethod},
      {"snapkv", "window saliency, max-pooled, per KV head", CreateSnapKvMethod},
      {"pyramidkv", "SnapKV scores, budgets decreasing with depth", CreatePyramidKvMethod},
      {"h2o", "accumulated attention of all queries plus the window", CreateH2oMethod},
      {"fastkv", "propagate one layer's top tokens past a fixed layer; per-layer KV budget",
       CreateFastKvMethod},
      {"structkv", "global centrality across layers picks the skeleton at the pivot; "
                   "decoupled per-layer KV budget", CreateStructKvMethod},
      {"gemfilter", "filter tokens at an early layer by the last query, re-prefill only them",
       CreateGemFilterMethod},
      {"kvcompose", "head-specific composite tokens, layer budgets from a global ranking",
       CreateKvComposeMethod},
  };
  return kMethods;
}

std::string KvMethodNames() {
  std::string names;
  for (const auto& m : KvMethods()) names += std::string(names.empty() ? "" : ", ") + m.name;
  return names;
}

StatusOr<std::unique_ptr<KvMethod>> CreateKvMethod(const std::string& name,
                                                   const MethodOptions& options) {
  const KvBudget& b = options.budget;
  if (b.tokens < 0 || !(b.ratio > 0.0 && b.ratio <= 1.0) || std::isnan(b.ratio)) {
    return Status::Error("--kv-budget must be a ratio in (0, 1] or a token count >= 1");
  }
  if (options.window < 0) return Status::Error("--window must be >= 0");
  if (!(options.struct_rate > 0.0 && options.struct_rate <= 1.0)) {
    return Status::Error("--struct-rate must be in (0, 1]");
  }
  if (!(options.lambda >= 0.0 && options.lambda <= 1.0)) {
    return Status::Error("--lambda must be in [0, 1]");
  }
  if (options.pivot < kPivotAuto) {
    return Status::Error("--pivot must be auto, calibrated or a layer index >= 0");
  }
  if (options.pivot == kPivotAuto && name != "structkv") {
    return Status::Error("--pivot auto is StructKV's online detection; --kv " + name +
                         " takes a fixed layer (--pivot N)");
  }
  if (options.probe_queries < 0) return Status::Error("--probe-queries must be >= 0");
  if (options.pool_kernel < 1 || options.pool_kernel % 2 == 0) {
    return Status::Error("--pool kernel must be a positive odd number");
  }
  for (const auto& m : KvMethods()) {
    if (name == m.name) return m.create(options);
  }
  return Status::Error("--kv '" + name + "' is not a known method; known: " +
                       KvMethodNames());
}

}  // namespace skv
