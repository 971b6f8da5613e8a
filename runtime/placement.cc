#include "runtime/placement.h"

#include <algorithm>

namespace skv {
namespace {

constexpr std::pair<NumaPolicy, std::string_view> kPolicies[] = {
    {NumaPolicy::kAuto, "auto"},
    {NumaPolicy::kNone, "none"},
    {NumaPolicy::kInterleave, "interleave"},
    {NumaPolicy::kLocal, "local"},
};

std::string NodeListString(const std::vector<int>& nodes) {
  std::string s;
  for (size_t i = 0; i < nodes.size(); ++i) {
    s += (i ? "," : "") + std::to_string(nodes[i]);
  }
  return s;
}

std::string TopologyString(const NumaTopology& topology) {
  std::string s;
  for (const NumaNode& n : topology.nodes) {
    if (!s.empty()) s += "; ";
    s += "node " + std::to_string(n.id) + ": cpus " + CpuListString(n.cpus);
  }
  return s;
}

}  // namespace

int NumaTopology::n_cpus() const {
  int total = 0;
  for (const NumaNode& n : nodes) total += static_cast<int>(n.cpus.size());
  return total;
}

StatusOr<NumaPolicy> ParseNumaPolicy(std::string_view text) {
  std::string valid;
  for (const auto& [policy, name] : kPolicies) {
    if (text == name) return policy;
    valid += (valid.empty() ? "" : ", ") + std::string(name);
  }
  return Status::Error("--numa '" + std::string(text) +
                       "': unknown policy; valid: " + valid);
}

std::string_view NumaPolicyName(NumaPolicy policy) {
  for (const auto& [p, name] : kPolicies) {
    if (p == policy) return name;
  }
  return "?";
}

std::string CpuListString(const std::vector<int>& cpus) {
  std::vector<int> sorted = cpus;
  std::sort(sorted.begin(), sorted.end());
  std::string s;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    if (!s.empty()) s += ",";
    s += std::to_string(sorted[i]);
    if (j > i) s += "-" + std::to_string(sorted[j]);
    i = j + 1;
  }
  return s;
}

std::string PlacementPlan::Describe() const {
  std::string s(NumaPolicyName(policy));
  if (!pins()) return s + " (not pinned)";
  s += " cpus=" + CpuListString(thread_cpu) + " nodes=" + NodeListString(nodes_used);
  s += weight_nodes.empty() ? " weights=first-touch"
                            : " weights=interleave(" + NodeListString(weight_nodes) + ")";
  s += kv_node >= 0 ? " kv=node" + std::to_string(kv_node) : " kv=first-touch";
  return s;
}

StatusOr<PlacementPlan> PlanPlacement(const NumaTopology& topology, int threads,
                                      NumaPolicy policy) {
  if (threads < 0) {
    return Status::Error("-t/--threads must be >= 0 (0 = all CPUs), got " +
                         std::to_string(threads));
  }
  const int cpus = topology.n_cpus();
  PlacementPlan plan;
  plan.threads = threads > 0 ? threads : std::max(cpus, 1);
  if (policy == NumaPolicy::kAuto && plan.threads > cpus) {
    plan.notes.push_back("numa auto: " + std::to_string(plan.threads) +
                         " threads for " + std::to_string(cpus) +
                         " usable CPUs, so threads are not pinned (none)");
    policy = NumaPolicy::kNone;
  }
  if (policy == NumaPolicy::kNone) {
    plan.policy = policy;
    return plan;
  }
  if (plan.threads > cpus) {
    return Status::Error(
        "-t/--threads " + std::to_string(plan.threads) + " is more than the " +
        std::to_string(cpus) + " CPUs this process may use (" +
        TopologyString(topology) + "); --numa " +
        std::string(NumaPolicyName(policy)) + " pins one thread per CPU: use -t " +
        std::to_string(cpus) + " or fewer, or --numa none");
  }

  // Spread: one thread per node in turn, skipping full nodes, gives the most
  // even per-node counts the node sizes allow (memory bandwidth is per node).
  const int n_nodes = topology.n_nodes();
  std::vector<int> per_node(n_nodes, 0);
  for (int assigned = 0; assigned < plan.threads;) {
    for (int n = 0; n < n_nodes && assigned < plan.threads; ++n) {
      if (per_node[n] < static_cast<int>(topology.nodes[n].cpus.size())) {
        ++per_node[n];
        ++assigned;
      }
    }
  }
  // Compact: consecutive worker ids on one node, lowest CPUs first.
  for (int n = 0; n < n_nodes; ++n) {
    if (per_node[n] == 0) continue;
    std::vector<int> node_cpus = topology.nodes[n].cpus;
    std::sort(node_cpus.begin(), node_cpus.end());
    for (int k = 0; k < per_node[n]; ++k) {
      plan.thread_cpu.push_back(node_cpus[k]);
      plan.thread_node.push_back(topology.nodes[n].id);
    }
    plan.nodes_used.push_back(topology.nodes[n].id);
  }
  std::sort(plan.nodes_used.begin(), plan.nodes_used.end());

  if (policy == NumaPolicy::kAuto) {
    policy = plan.nodes_used.size() > 1 ? NumaPolicy::kInterleave : NumaPolicy::kLocal;
  }
  plan.policy = policy;
  if (policy == NumaPolicy::kInterleave) {
    plan.weight_nodes = plan.nodes_used;
  } else {
    plan.local_alloc = true;
    plan.kv_node = plan.thread_node[0];
  }
  return plan;
}

}  // namespace skv
