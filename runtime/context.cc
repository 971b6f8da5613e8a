#include "runtime/context.h"

#include <fmt/core.h>

#include <numa.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/parallel.h"
#include "simd/quant.h"

namespace skv {

NumaTopology NumaTopology::Detect() {
  NumaTopology topo;
  if (numa_available() >= 0) {
    const int nodes = numa_max_node() + 1;
    bitmask* mask = numa_allocate_cpumask();
    for (int n = 0; n < nodes; ++n) {
      if (numa_node_to_cpus(n, mask) != 0) continue;
      std::vector<int> cpus;
      for (unsigned cpu = 0; cpu < mask->size; ++cpu) {
        if (numa_bitmask_isbitset(mask, cpu)) cpus.push_back(static_cast<int>(cpu));
      }
      if (!cpus.empty()) topo.cpus.push_back(std::move(cpus));
    }
    numa_free_cpumask(mask);
  }
  if (topo.cpus.empty()) {
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    std::vector<int> cpus;
    for (long i = 0; i < (n > 0 ? n : 1); ++i) cpus.push_back(static_cast<int>(i));
    topo.cpus.push_back(std::move(cpus));
  }
  return topo;
}

StatusOr<RuntimeContext> RuntimeContext::Create(const RuntimeOptions& options,
                                                NumaTopology topology) {
  if (options.threads < 0) {
    return Status::Error("-t/--threads must be >= 0 (0 = all CPUs), got " +
                         std::to_string(options.threads));
  }
  RuntimeContext ctx;
  ctx.topology_ = std::move(topology);
  int total = 0;
  for (const auto& node : ctx.topology_.cpus) total += static_cast<int>(node.size());
  ctx.threads_ = options.threads > 0 ? options.threads : (total > 0 ? total : 1);
  SetThreads(ctx.threads_);
  return ctx;
}

std::string RuntimeContext::Describe() const {
  return "threads=" + std::to_string(threads_) +
         " numa_nodes=" + std::to_string(topology_.n_nodes()) +
         " simd=" + ActiveSimdTarget();
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
