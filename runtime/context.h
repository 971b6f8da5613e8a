// RuntimeContext: the machine-wide resources a run uses (thread count, NUMA
// topology). Passed explicitly by reference; never a singleton, so tests can
// build contexts with injected topologies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace skv {

struct NumaTopology {
  // cpus[node] lists the CPUs of each node; one node on most machines.
  std::vector<std::vector<int>> cpus;
  int n_nodes() const { return static_cast<int>(cpus.size()); }
  // Reads the topology through libnuma; a single node with every online CPU
  // when NUMA is unavailable.
  static NumaTopology Detect();
};

struct RuntimeOptions {
  int threads = 0;  // 0: one per online CPU
};

class RuntimeContext {
 public:
  // Validates the options (errors name the flag) and applies the thread
  // count to the parallel helpers.
  static StatusOr<RuntimeContext> Create(const RuntimeOptions& options,
                                         NumaTopology topology);
  int threads() const { return threads_; }
  const NumaTopology& topology() const { return topology_; }
  // One line for logs: "threads=2 numa_nodes=1 simd=AVX3".
  std::string Describe() const;

 private:
  int threads_ = 1;
  NumaTopology topology_;
};

// Peak resident set size of this process in bytes (getrusage).
int64_t PeakRssBytes();

// "241.39 MiB": bytes in binary units for reports.
std::string HumanBytes(double bytes);

}  // namespace skv
