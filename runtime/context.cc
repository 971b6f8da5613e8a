#include "runtime/context.h"

#include <fmt/core.h>

#include <mimalloc.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "base/parallel.h"
#include "simd/quant.h"

namespace skv {
namespace {

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14
#endif

// CPUs this process may run on. libnuma reads them from /proc/self/status
// when it loads, before any context pins the main thread, so a second
// Detect() in the same process still sees the startup set, not one CPU.
std::vector<bool> AllowedCpus() {
  std::vector<bool> allowed;
  if (numa_available() >= 0 && numa_all_cpus_ptr != nullptr) {
    allowed.resize(numa_all_cpus_ptr->size);
    for (unsigned cpu = 0; cpu < numa_all_cpus_ptr->size; ++cpu) {
      allowed[cpu] = numa_bitmask_isbitset(numa_all_cpus_ptr, cpu) != 0;
    }
    return allowed;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    allowed.resize(CPU_SETSIZE);
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) allowed[cpu] = CPU_ISSET(cpu, &set);
  }
  return allowed;
}

// A node mask for the mempolicy system calls, sized for every possible node.
struct NodeMask {
  std::vector<unsigned long> words;
  unsigned long maxnode() const { return words.size() * 8 * sizeof(unsigned long); }
};

NodeMask MakeNodeMask(const std::vector<int>& nodes) {
  constexpr int kBits = 8 * sizeof(unsigned long);
  NodeMask m;
  m.words.assign(numa_num_possible_nodes() / kBits + 1, 0);
  for (int n : nodes) m.words[n / kBits] |= 1ul << (n % kBits);
  return m;
}

// Brings a file mapping's pages into memory from this thread, so that page
// cache pages are allocated under this thread's memory policy.
Status Populate(const uint8_t* begin, size_t bytes) {
  if (::madvise(const_cast<uint8_t*>(begin), bytes, MADV_POPULATE_READ) == 0) {
    return Status::Ok();
  }
  if (errno != EINVAL) return Status::Error(std::string("madvise: ") + std::strerror(errno));
  // Kernels before 5.14: touch one byte per page.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  unsigned sum = 0;
  for (size_t off = 0; off < bytes; off += page) {
    sum += *static_cast<const volatile uint8_t*>(begin + off);
  }
  (void)sum;
  return Status::Ok();
}

// Faults `region` in with this thread's policy set to interleave over
// `nodes`, then puts the previous policy back.
Status InterleaveRegion(std::span<const uint8_t> region, const std::vector<int>& nodes) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  // The mapping starts on a page boundary and covers whole pages, so
  // widening the region to pages stays inside it.
  const uintptr_t begin = reinterpret_cast<uintptr_t>(region.data()) & ~(page - 1);
  const uintptr_t end =
      (reinterpret_cast<uintptr_t>(region.data() + region.size()) + page - 1) & ~(page - 1);
  NodeMask saved = MakeNodeMask({});
  int saved_mode = MPOL_DEFAULT;
  if (get_mempolicy(&saved_mode, saved.words.data(), saved.maxnode(), nullptr, 0) != 0) {
    return Status::Error(std::string("get_mempolicy: ") + std::strerror(errno));
  }
  const NodeMask mask = MakeNodeMask(nodes);
  if (set_mempolicy(MPOL_INTERLEAVE, mask.words.data(), mask.maxnode()) != 0) {
    return Status::Error(std::string("set_mempolicy(MPOL_INTERLEAVE): ") + std::strerror(errno));
  }
  const Status populated = Populate(reinterpret_cast<const uint8_t*>(begin), end - begin);
  const long restored = saved_mode == MPOL_DEFAULT
                            ? set_mempolicy(MPOL_DEFAULT, nullptr, 0)
                              : set_mempolicy(saved_mode, saved.words.data(), saved.maxnode());
  if (restored != 0) {
    return Status::Error(std::string("set_mempolicy (restore): ") + std::strerror(errno));
  }
  return populated;
}

std::string EnvBindingVariables() {
  std::string found;
  for (const char* name : {"OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY"}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') {
      found += (found.empty() ? "" : ", ") + std::string(name) + "=" + v;
    }
  }
  return found;
}

}  // namespace

NumaTopology NumaTopology::Detect() {
  NumaTopology topo;
  const std::vector<bool> allowed = AllowedCpus();
  auto usable = [&](unsigned cpu) {
    return allowed.empty() || (cpu < allowed.size() && allowed[cpu]);
  };
  if (numa_available() >= 0) {
    topo.numa_supported = true;
    const int nodes = numa_max_node() + 1;
    bitmask* mask = numa_allocate_cpumask();
    for (int n = 0; n < nodes; ++n) {
      if (numa_node_to_cpus(n, mask) != 0) continue;
      NumaNode node{n, {}};
      for (unsigned cpu = 0; cpu < mask->size; ++cpu) {
        if (numa_bitmask_isbitset(mask, cpu) && usable(cpu)) {
          node.cpus.push_back(static_cast<int>(cpu));
        }
      }
      // Memory-only nodes (CXL, HBM) and nodes outside our cpuset hold no
      // worker; interleaving is over the nodes the workers use.
      if (!node.cpus.empty()) topo.nodes.push_back(std::move(node));
    }
    numa_free_cpumask(mask);
  }
  if (topo.nodes.empty()) {
    topo.numa_supported = false;
    NumaNode node{0, {}};
    for (unsigned cpu = 0; cpu < allowed.size(); ++cpu) {
      if (allowed[cpu]) node.cpus.push_back(static_cast<int>(cpu));
    }
    if (node.cpus.empty()) {
      const long n = sysconf(_SC_NPROCESSORS_ONLN);
      for (long i = 0; i < (n > 0 ? n : 1); ++i) node.cpus.push_back(static_cast<int>(i));
    }
    topo.nodes.push_back(std::move(node));
  }
  return topo;
}

StatusOr<RuntimeContext> RuntimeContext::Create(const RuntimeOptions& options,
                                                NumaTopology topology) {
  SKV_ASSIGN_OR_RETURN(PlacementPlan plan,
                       PlanPlacement(topology, options.threads, options.numa));
  RuntimeContext ctx;
  ctx.topology_ = std::move(topology);
  ctx.plan_ = std::move(plan);
  ctx.threads_ = ctx.plan_.threads;
  ctx.warnings_ = ctx.plan_.notes;
  SetThreads(ctx.threads_);
  if (!ctx.plan_.pins()) return ctx;

  const PlacementPlan& p = ctx.plan_;
  const bool set_policy = p.local_alloc && ctx.topology_.numa_supported;
  std::vector<int> affinity_error(ctx.threads_, -1);  // -1: worker never ran
  std::vector<int> policy_error(ctx.threads_, 0);
  const int ran = OnEachThread([&](int i, int /*n*/) {
    if (i >= ctx.threads_) return;
    const size_t size = CPU_ALLOC_SIZE(p.thread_cpu[i] + 1);
    cpu_set_t* set = CPU_ALLOC(p.thread_cpu[i] + 1);
    CPU_ZERO_S(size, set);
    CPU_SET_S(p.thread_cpu[i], size, set);
    affinity_error[i] = pthread_setaffinity_np(pthread_self(), size, set);
    CPU_FREE(set);
    // MPOL_LOCAL is the kernel default, but a policy inherited from numactl
    // (e.g. --interleave=all) would otherwise override "local".
    if (set_policy && set_mempolicy(MPOL_LOCAL, nullptr, 0) != 0) policy_error[i] = errno;
  });

  ctx.pinned_ = ran == ctx.threads_;
  if (ran != ctx.threads_) {
    ctx.warnings_.push_back(fmt::format(
        "OpenMP ran {} threads for -t {} (OMP_THREAD_LIMIT or OMP_DYNAMIC?); "
        "threads are not all pinned",
        ran, ctx.threads_));
  }
  for (int i = 0; i < ctx.threads_; ++i) {
    if (affinity_error[i] > 0) {
      ctx.pinned_ = false;
      ctx.warnings_.push_back(fmt::format(
          "cannot pin thread {} to CPU {}: {}; it runs where the OS puts it", i,
          p.thread_cpu[i], std::strerror(affinity_error[i])));
      break;  // one line is enough: the cause is the same for every thread
    }
  }
  for (int i = 0; i < ctx.threads_; ++i) {
    if (policy_error[i] != 0) {
      ctx.warnings_.push_back(fmt::format("set_mempolicy(MPOL_LOCAL) on thread {}: {}", i,
                                          std::strerror(policy_error[i])));
      break;
    }
  }
  if (const std::string env = EnvBindingVariables(); !env.empty()) {
    ctx.warnings_.push_back("--numa " + std::string(NumaPolicyName(p.policy)) +
                            " pins threads itself, overriding " + env +
                            " (--numa none keeps them)");
  }
  return ctx;
}

std::string RuntimeContext::PlaceWeights(std::span<const uint8_t> region) const {
  if (plan_.weight_nodes.empty() || region.empty()) return "weights: first touch";
  std::string nodes;
  for (int n : plan_.weight_nodes) nodes += (nodes.empty() ? "" : ",") + std::to_string(n);
  if (!topology_.numa_supported || numa_available() < 0) {
    return "weights: interleave over nodes " + nodes + " planned, not applied (no NUMA support)";
  }
  const auto start = std::chrono::steady_clock::now();
  const Status s = InterleaveRegion(region, plan_.weight_nodes);
  if (!s.ok()) {
    return "weights: interleave over nodes " + nodes + " not applied: " + s.message();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string sampled;
  for (const auto& [node, pages] : SamplePageNodes(region, 4096)) {
    sampled += fmt::format("{}{}:{}", sampled.empty() ? "" : " ", node, pages);
  }
  return fmt::format(
      "weights: interleave over nodes {}: {} faulted in, {:.2f} s; sampled pages per "
      "node {} (pages cached before this run keep their node)",
      nodes, HumanBytes(static_cast<double>(region.size())), seconds, sampled);
}

std::string RuntimeContext::Describe() const {
  return "threads=" + std::to_string(threads_) + " numa=" + plan_.Describe() +
         (plan_.pins() && !pinned_ ? " (pinning failed)" : "") +
         " numa_nodes=" + std::to_string(topology_.n_nodes()) +
         " alloc=" + AllocatorName() + " simd=" + ActiveSimdTarget();
}

std::map<int, int64_t> SamplePageNodes(std::span<const uint8_t> region, int max_samples) {
  std::map<int, int64_t> counts;
  if (region.empty() || max_samples <= 0 || numa_available() < 0) return counts;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(region.data()) & ~(page - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(region.data() + region.size());
  const uintptr_t n_pages = (end - begin + page - 1) / page;
  const uintptr_t n = std::min<uintptr_t>(n_pages, static_cast<uintptr_t>(max_samples));
  std::vector<void*> pages(n);
  for (uintptr_t i = 0; i < n; ++i) {
    pages[i] = reinterpret_cast<void*>(begin + (i * n_pages / n) * page);
  }
  std::vector<int> status(n, -1);
  if (numa_move_pages(0, n, pages.data(), nullptr, status.data(), 0) != 0) return counts;
  for (int node : status) {
    if (node >= 0) ++counts[node];  // negative: not present (-ENOENT) or unmapped
  }
  return counts;
}

std::string AllocatorName() {
  void* p = std::malloc(64);
  if (p == nullptr) return "unknown";
  std::memset(p, 0, 64);
  const bool mi = mi_is_in_heap_region(p);
  std::free(p);
  if (!mi) return "system";
  const int v = mi_version();  // 209 = 2.0.9
  return fmt::format("mimalloc-{}.{}.{}", v / 100, (v % 100) / 10, v % 10);
}

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  return fmt::format("{:.{}f} {}", bytes, u == 0 ? 0 : 2, units[u]);
}

int64_t PeakRssBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

}  // namespace skv
