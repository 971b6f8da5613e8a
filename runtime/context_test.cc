// RuntimeContext on this machine: pinning is really applied (read back from
// inside OpenMP regions), weight interleaving faults a file mapping in and
// restores the thread's memory policy, mimalloc serves malloc, and oneDNN
// shares our one OpenMP runtime (no second thread pool to oversubscribe).
#include "runtime/context.h"

#include <gtest/gtest.h>
#include <link.h>
#include <numa.h>
#include <numaif.h>
#include <oneapi/dnnl/dnnl.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "base/parallel.h"

namespace skv {
namespace {

// The CPU set a thread may run on, as a sorted list.
std::vector<int> ThreadCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

std::vector<int> AllCpus(const NumaTopology& t) {
  std::vector<int> all;
  for (const NumaNode& n : t.nodes) all.insert(all.end(), n.cpus.begin(), n.cpus.end());
  std::sort(all.begin(), all.end());
  return all;
}

// Puts every worker of the current pool back on every usable CPU with the
// default memory policy, so that later tests in this binary run unpinned.
void Unpin(const NumaTopology& t) {
  const std::vector<int> all = AllCpus(t);
  OnEachThread([&](int, int) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : all) CPU_SET(c, &set);
    sched_setaffinity(0, sizeof(set), &set);
    if (t.numa_supported) set_mempolicy(MPOL_DEFAULT, nullptr, 0);
  });
}

TEST(NumaTopology, DetectListsUsableCpusOnce) {
  const NumaTopology t = NumaTopology::Detect();
  ASSERT_GE(t.n_nodes(), 1);
  const std::vector<int> all = AllCpus(t);
  EXPECT_EQ(static_cast<int>(all.size()), t.n_cpus());
  EXPECT_EQ(std::set<int>(all.begin(), all.end()).size(), all.size());
  EXPECT_LE(t.n_cpus(), static_cast<int>(sysconf(_SC_NPROCESSORS_CONF)));
}

TEST(RuntimeContext, PinsEachWorkerToItsPlannedCpu) {
  const NumaTopology topo = NumaTopology::Detect();
  RuntimeOptions o;
  o.threads = std::min(2, topo.n_cpus());
  o.numa = NumaPolicy::kLocal;
  auto ctx = RuntimeContext::Create(o, topo);
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  const PlacementPlan& plan = ctx->placement();
  ASSERT_EQ(static_cast<int>(plan.thread_cpu.size()), o.threads);
  if (!ctx->pinned()) {
    Unpin(topo);
    GTEST_SKIP() << "affinity calls refused here: "
                 << (ctx->warnings().empty() ? "" : ctx->warnings()[0]);
  }
  EXPECT_EQ(MaxThreads(), o.threads);
  // Read back in two later regions: libgomp reuses the pinned pool threads.
  for (int region = 0; region < 2; ++region) {
    std::vector<std::vector<int>> seen(o.threads);
    std::vector<int> mode(o.threads, -1);
    const int ran = OnEachThread([&](int i, int) {
      seen[i] = ThreadCpus();
      if (topo.numa_supported) get_mempolicy(&mode[i], nullptr, 0, nullptr, 0);
    });
    ASSERT_EQ(ran, o.threads);
    for (int i = 0; i < o.threads; ++i) {
      EXPECT_EQ(seen[i], std::vector<int>{plan.thread_cpu[i]}) << "worker " << i;
      if (topo.numa_supported) {
        EXPECT_EQ(mode[i], MPOL_LOCAL) << "worker " << i;
      }
    }
  }
  // Work loops run on the planned CPUs too.
  std::vector<int> cpu_of(64, -1), thread_of(64, -1);
  ParallelFor(64, [&](int64_t i) {
    cpu_of[i] = sched_getcpu();
    thread_of[i] = omp_get_thread_num();
  });
  for (int i = 0; i < 64; ++i) {
    EXPECT_EQ(cpu_of[i], plan.thread_cpu[thread_of[i]]) << "item " << i;
  }
  const std::string d = ctx->Describe();
  EXPECT_NE(d.find("numa=local cpus="), std::string::npos) << d;
  EXPECT_EQ(d.find("pinning failed"), std::string::npos) << d;
  Unpin(topo);
}

TEST(RuntimeContext, NoneLeavesAffinityAlone) {
  const NumaTopology topo = NumaTopology::Detect();
  Unpin(topo);
  RuntimeOptions o;
  o.threads = topo.n_cpus();
  o.numa = NumaPolicy::kNone;
  auto ctx = RuntimeContext::Create(o, topo);
  ASSERT_TRUE(ctx.ok()) << ctx.status().message();
  EXPECT_FALSE(ctx->pinned());
  OnEachThread([&](int, int) { EXPECT_EQ(ThreadCpus(), AllCpus(topo)); });
  EXPECT_NE(ctx->Describe().find("numa=none (not pinned)"), std::string::npos);
}

TEST(RuntimeContext, ThreadErrorsNameTheFlags) {
  const NumaTopology topo = NumaTopology::Detect();
  RuntimeOptions o;
  o.threads = topo.n_cpus() + 1;
  o.numa = NumaPolicy::kLocal;
  auto over = RuntimeContext::Create(o, topo);
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find("-t/--threads"), std::string::npos);
  o.numa = NumaPolicy::kAuto;  // falls back to no pinning, with a warning
  auto fallback = RuntimeContext::Create(o, topo);
  ASSERT_TRUE(fallback.ok());
  EXPECT_FALSE(fallback->placement().pins());
  ASSERT_FALSE(fallback->warnings().empty());
  o.threads = -1;
  EXPECT_FALSE(RuntimeContext::Create(o, topo).ok());
}

// A read-only private file mapping, as GgufFile makes.
class MappedFile {
 public:
  explicit MappedFile(size_t bytes) : bytes_(bytes) {
    std::FILE* f = std::tmpfile();
    std::vector<uint8_t> data(bytes, 7);
    std::fwrite(data.data(), 1, bytes, f);
    std::fflush(f);
    base_ = static_cast<uint8_t*>(
        ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, fileno(f), 0));
    std::fclose(f);
  }
  ~MappedFile() {
    if (base_ != MAP_FAILED) ::munmap(base_, bytes_);
  }
  bool ok() const { return base_ != MAP_FAILED; }
  std::span<const uint8_t> span() const { return {base_, bytes_}; }

 private:
  size_t bytes_;
  uint8_t* base_;
};

int64_t Total(const std::map<int, int64_t>& counts) {
  int64_t total = 0;
  for (const auto& [node, pages] : counts) total += pages;
  return total;
}

TEST(RuntimeContext, InterleaveFaultsWeightsInAndRestoresThePolicy) {
  const NumaTopology topo = NumaTopology::Detect();
  if (!topo.numa_supported) GTEST_SKIP() << "no NUMA support on this kernel";
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  MappedFile file(64 * page);
  ASSERT_TRUE(file.ok());
  // Offset like GGUF tensor data: the region need not start on a page.
  const std::span<const uint8_t> region = file.span().subspan(100);
  EXPECT_EQ(Total(SamplePageNodes(region, 1000)), 0);  // nothing mapped yet

  RuntimeOptions local;
  local.threads = 1;
  local.numa = NumaPolicy::kLocal;
  auto lctx = RuntimeContext::Create(local, topo);
  ASSERT_TRUE(lctx.ok());
  EXPECT_EQ(lctx->PlaceWeights(region), "weights: first touch");
  EXPECT_EQ(Total(SamplePageNodes(region, 1000)), 0);  // local leaves them alone

  RuntimeOptions o = local;
  o.numa = NumaPolicy::kInterleave;
  auto ctx = RuntimeContext::Create(o, topo);
  ASSERT_TRUE(ctx.ok());
  ASSERT_EQ(ctx->placement().weight_nodes, std::vector<int>{topo.nodes[0].id});
  int before = -1;
  ASSERT_EQ(get_mempolicy(&before, nullptr, 0, nullptr, 0), 0);
  const std::string line = ctx->PlaceWeights(region);
  EXPECT_NE(line.find("weights: interleave over nodes " + std::to_string(topo.nodes[0].id) +
                      ": "),
            std::string::npos)
      << line;
  int after = -1;
  ASSERT_EQ(get_mempolicy(&after, nullptr, 0, nullptr, 0), 0);
  EXPECT_EQ(after, before);
  const std::map<int, int64_t> nodes = SamplePageNodes(region, 1000);
  EXPECT_EQ(Total(nodes), 64);  // every page faulted in
  for (const auto& [node, pages] : nodes) EXPECT_EQ(node, topo.nodes[0].id);
  Unpin(topo);
}

TEST(Allocator, MallocIsMimalloc) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer replaces malloc";
#else
  EXPECT_EQ(AllocatorName().rfind("mimalloc-", 0), 0u) << AllocatorName();
#endif
}

int CountOpenMpRuntimes(dl_phdr_info* info, size_t, void* data) {
  const std::string name = info->dlpi_name ? info->dlpi_name : "";
  for (const char* lib : {"libgomp", "libiomp", "libomp."}) {
    if (name.find(lib) != std::string::npos) {
      static_cast<std::set<std::string>*>(data)->insert(name);
    }
  }
  return 0;
}

TEST(Threading, OneDnnSharesOurOpenMpRuntime) {
  const dnnl_version_t* v = dnnl_version();
  EXPECT_EQ(v->cpu_runtime, static_cast<unsigned>(DNNL_RUNTIME_OMP));
  std::set<std::string> runtimes;
  dl_iterate_phdr(CountOpenMpRuntimes, &runtimes);
  EXPECT_EQ(runtimes.size(), 1u) << "several OpenMP runtimes mean several thread pools";
}

}  // namespace
}  // namespace skv
