// RuntimeContext: the machine-wide resources a run uses (thread count, NUMA
// topology, the placement plan and what of it was applied). Passed
// explicitly by reference; never a singleton, so tests can build contexts
// with injected topologies.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "runtime/placement.h"

namespace skv {

struct RuntimeOptions {
  int threads = 0;  // 0: one per usable CPU
  NumaPolicy numa = NumaPolicy::kAuto;
};

// Not thread-safe: create it, and place weights, from the thread that then
// drives the sessions (it becomes worker 0); the OpenMP pool it pins belongs
// to that thread (libgomp keeps one pool per calling thread).
class RuntimeContext {
 public:
  // Validates the options (errors name -t or --numa), plans the placement,
  // sets the OpenMP thread count and, when the plan pins, pins each OpenMP
  // worker to its CPU once (libgomp reuses the same pool threads for every
  // later region of that size, oneDNN included: it runs on the same libgomp).
  // Failed affinity or memory-policy calls (containers, seccomp) become
  // warnings(), not errors: the run is still correct, only slower.
  static StatusOr<RuntimeContext> Create(const RuntimeOptions& options,
                                         NumaTopology topology);

  // Applies the plan's weight policy to a read-only file mapping (the GGUF
  // tensor data) and returns one line for logs. Under interleave it faults
  // the region in with this thread's memory policy set to interleave over
  // the plan's nodes, then restores the policy. Why not mbind(): page-cache
  // pages of a file mapping are allocated under the policy of the faulting
  // task, never the mapping's (mbind only governs anonymous pages, and a
  // PROT_READ file mapping has none). Pages already in the page cache (the
  // file was read recently) stay where they are; the line reports the nodes
  // of a sample of pages so that this shows. Other policies: nothing done.
  std::string PlaceWeights(std::span<const uint8_t> region) const;

  int threads() const { return threads_; }
  const NumaTopology& topology() const { return topology_; }
  const PlacementPlan& placement() const { return plan_; }
  // The plan pins and every worker's affinity call succeeded.
  bool pinned() const { return pinned_; }
  // Notes and failed system calls, for the caller to print.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // One line for logs: "threads=2 numa=local cpus=0-1 nodes=0
  // weights=first-touch kv=node0 alloc=mimalloc-2.0.9 simd=AVX3".
  std::string Describe() const;

 private:
  int threads_ = 1;
  NumaTopology topology_;
  PlacementPlan plan_;
  bool pinned_ = false;
  std::vector<std::string> warnings_;
};

// node id -> pages, for up to `max_samples` pages evenly spread over
// `region` (move_pages query; pages not yet faulted in are skipped). Empty
// when NUMA is unavailable.
std::map<int, int64_t> SamplePageNodes(std::span<const uint8_t> region,
                                       int max_samples);

// "mimalloc-2.0.9" when malloc() is served by mimalloc (it replaces malloc
// process-wide when libmimalloc is linked before libc), else "system".
std::string AllocatorName();

// Peak resident set size of this process in bytes (getrusage).
int64_t PeakRssBytes();

// "241.39 MiB": bytes in binary units for reports.
std::string HumanBytes(double bytes);

}  // namespace skv
