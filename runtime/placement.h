// Where threads run and where memory goes: a placement plan computed from
// (topology, thread count, --numa policy) by a pure function, so that
// multi-node layouts are tested on a one-node machine through injected
// topologies. RuntimeContext (runtime/context.h) applies the plan.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace skv {

struct NumaNode {
  int id = 0;             // kernel node id (ids may be sparse)
  std::vector<int> cpus;  // CPUs of the node this process may run on, ascending
};

struct NumaTopology {
  std::vector<NumaNode> nodes;  // nodes with at least one usable CPU
  // Memory policies can be applied (libnuma works on this kernel); false for
  // injected topologies and for kernels without NUMA support.
  bool numa_supported = false;
  int n_nodes() const { return static_cast<int>(nodes.size()); }
  int n_cpus() const;
  // The nodes and their CPUs through libnuma, restricted to the CPUs this
  // process was started on (taskset, cgroup cpusets); a single node with
  // the allowed CPUs when NUMA is unavailable.
  static NumaTopology Detect();
};

// --numa values.
//   auto:       interleave when the threads span several nodes, else local
//               (the default; never an error: with more threads than CPUs it
//               falls back to none with a note).
//   none:       no pinning and no memory policy: the OS, taskset, numactl
//               and OMP_PROC_BIND decide.
//   interleave: pin; weights interleaved page by page over the nodes the
//               threads use (decode reads every weight once per token, so
//               spreading them uses every node's memory bandwidth); KV and
//               scratch by first touch.
//   local:      pin; every worker allocates on its own node (MPOL_LOCAL), so
//               KV and scratch land on the node of the thread that first
//               writes them; weights by first touch.
enum class NumaPolicy { kAuto, kNone, kInterleave, kLocal };

// Errors name --numa and list the valid values.
StatusOr<NumaPolicy> ParseNumaPolicy(std::string_view text);
std::string_view NumaPolicyName(NumaPolicy policy);

struct PlacementPlan {
  NumaPolicy policy = NumaPolicy::kNone;  // resolved: never kAuto
  int threads = 1;
  // [threads] CPU and node id of each OpenMP worker (worker i = omp thread
  // number i); empty when the plan does not pin.
  std::vector<int> thread_cpu;
  std::vector<int> thread_node;
  std::vector<int> nodes_used;    // node ids holding a worker, ascending
  std::vector<int> weight_nodes;  // interleave set for weights; empty: first touch
  bool local_alloc = false;       // workers set MPOL_LOCAL
  // Node the session's KV blocks and scratch land on: a session's buffers are
  // allocated and first written by its calling thread (worker 0). -1: not
  // controlled (first touch under whatever policy was inherited).
  int kv_node = -1;
  // Why auto did not pin (more threads than CPUs); callers print these.
  std::vector<std::string> notes;

  bool pins() const { return !thread_cpu.empty(); }
  // "local cpus=0-3 nodes=0 weights=first-touch kv=node0".
  std::string Describe() const;
};

// Pure: the same inputs give the same plan on any machine. threads = 0 means
// one per usable CPU. Workers are spread over the nodes (as even a count per
// node as the node sizes allow, nodes in topology order), then packed
// compactly within each node (lowest CPU ids first; Linux numbers SMT
// siblings after all physical cores on common x86 servers, so this fills
// physical cores first). Consecutive worker ids share a node, so OpenMP's
// contiguous static ranges stay on one node. Errors name -t/--threads (a
// negative count, or more threads than usable CPUs under a pinning policy:
// two pinned workers on one CPU would take turns at every barrier).
StatusOr<PlacementPlan> PlanPlacement(const NumaTopology& topology, int threads,
                                      NumaPolicy policy);

// "0-3,8,10-11".
std::string CpuListString(const std::vector<int>& cpus);

}  // namespace skv
