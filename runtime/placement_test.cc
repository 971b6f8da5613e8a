// PlanPlacement on injected topologies: multi-node layouts are checked on
// any machine, down to the CPU and node of every worker.
#include "runtime/placement.h"

#include <gtest/gtest.h>

namespace skv {
namespace {

using V = std::vector<int>;

NumaTopology TwoByFour() { return {{{0, {0, 1, 2, 3}}, {1, {4, 5, 6, 7}}}, false}; }

PlacementPlan Plan(const NumaTopology& t, int threads, NumaPolicy p) {
  auto plan = PlanPlacement(t, threads, p);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  return plan.ok() ? *plan : PlacementPlan{};
}

TEST(PlanPlacement, InterleaveSpreadsOverNodesThenCompacts) {
  const PlacementPlan p = Plan(TwoByFour(), 4, NumaPolicy::kInterleave);
  EXPECT_EQ(p.policy, NumaPolicy::kInterleave);
  EXPECT_EQ(p.threads, 4);
  EXPECT_EQ(p.thread_cpu, (V{0, 1, 4, 5}));
  EXPECT_EQ(p.thread_node, (V{0, 0, 1, 1}));
  EXPECT_EQ(p.nodes_used, (V{0, 1}));
  EXPECT_EQ(p.weight_nodes, (V{0, 1}));
  EXPECT_FALSE(p.local_alloc);
  EXPECT_EQ(p.kv_node, -1);
  EXPECT_EQ(p.Describe(),
            "interleave cpus=0-1,4-5 nodes=0,1 weights=interleave(0,1) kv=first-touch");
}

TEST(PlanPlacement, LocalUsesEveryCpuAndKeepsKvOnWorkerZerosNode) {
  const PlacementPlan p = Plan(TwoByFour(), 8, NumaPolicy::kLocal);
  EXPECT_EQ(p.thread_cpu, (V{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(p.thread_node, (V{0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_TRUE(p.weight_nodes.empty());
  EXPECT_TRUE(p.local_alloc);
  EXPECT_EQ(p.kv_node, 0);
  EXPECT_EQ(p.Describe(), "local cpus=0-7 nodes=0,1 weights=first-touch kv=node0");
}

TEST(PlanPlacement, FewerThreadsThanCpus) {
  EXPECT_EQ(Plan(TwoByFour(), 2, NumaPolicy::kLocal).thread_cpu, (V{0, 4}));
  const PlacementPlan odd = Plan(TwoByFour(), 3, NumaPolicy::kInterleave);
  EXPECT_EQ(odd.thread_cpu, (V{0, 1, 4}));  // the extra thread goes to the first node
  EXPECT_EQ(odd.thread_node, (V{0, 0, 1}));
  const PlacementPlan one = Plan(TwoByFour(), 1, NumaPolicy::kInterleave);
  EXPECT_EQ(one.thread_cpu, (V{0}));
  EXPECT_EQ(one.weight_nodes, (V{0}));  // only the node a thread uses
}

TEST(PlanPlacement, FourSparseNodesWithUnsortedCpus) {
  // Node ids as the kernel reports them (a memory-only node 1 left out by
  // Detect), CPUs in arbitrary order.
  const NumaTopology t{{{0, {1, 0}}, {2, {3, 2}}, {4, {5, 4}}, {6, {7, 6}}}, false};
  const PlacementPlan p = Plan(t, 6, NumaPolicy::kInterleave);
  EXPECT_EQ(p.thread_cpu, (V{0, 1, 2, 3, 4, 6}));
  EXPECT_EQ(p.thread_node, (V{0, 0, 2, 2, 4, 6}));
  EXPECT_EQ(p.nodes_used, (V{0, 2, 4, 6}));
  EXPECT_EQ(p.weight_nodes, (V{0, 2, 4, 6}));
  const PlacementPlan two = Plan(t, 2, NumaPolicy::kInterleave);
  EXPECT_EQ(two.thread_cpu, (V{0, 2}));
  EXPECT_EQ(two.weight_nodes, (V{0, 2}));
  EXPECT_EQ(Plan(t, 3, NumaPolicy::kLocal).kv_node, 0);
}

TEST(PlanPlacement, UnevenNodesFillTheSmallNodeThenTheLarge) {
  const NumaTopology t{{{0, {0, 1}}, {1, {2, 3, 4, 5, 6, 7}}}, false};
  EXPECT_EQ(Plan(t, 4, NumaPolicy::kLocal).thread_cpu, (V{0, 1, 2, 3}));
  const PlacementPlan p = Plan(t, 7, NumaPolicy::kLocal);
  EXPECT_EQ(p.thread_cpu, (V{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(p.thread_node, (V{0, 0, 1, 1, 1, 1, 1}));
}

TEST(PlanPlacement, CompactPrefersLowCpuIdsSoPhysicalCoresComeFirst) {
  // SMT siblings numbered after the physical cores (0-3 cores, 8-11 siblings).
  const NumaTopology t{{{0, {8, 9, 10, 11, 0, 1, 2, 3}}}, false};
  EXPECT_EQ(Plan(t, 4, NumaPolicy::kLocal).thread_cpu, (V{0, 1, 2, 3}));
  EXPECT_EQ(Plan(t, 6, NumaPolicy::kLocal).thread_cpu, (V{0, 1, 2, 3, 8, 9}));
}

TEST(PlanPlacement, AutoInterleavesAcrossNodesAndIsLocalOnOne) {
  const PlacementPlan two = Plan(TwoByFour(), 0, NumaPolicy::kAuto);  // 0: all CPUs
  EXPECT_EQ(two.threads, 8);
  EXPECT_EQ(two.policy, NumaPolicy::kInterleave);
  EXPECT_EQ(two.weight_nodes, (V{0, 1}));
  const PlacementPlan one = Plan(TwoByFour(), 1, NumaPolicy::kAuto);
  EXPECT_EQ(one.policy, NumaPolicy::kLocal);
  EXPECT_EQ(one.kv_node, 0);
  const NumaTopology single{{{0, {0, 1}}}, false};
  EXPECT_EQ(Plan(single, 0, NumaPolicy::kAuto).policy, NumaPolicy::kLocal);
  EXPECT_TRUE(one.notes.empty());
}

TEST(PlanPlacement, NoneNeitherPinsNorPlacesMemory) {
  const PlacementPlan p = Plan(TwoByFour(), 3, NumaPolicy::kNone);
  EXPECT_EQ(p.threads, 3);
  EXPECT_FALSE(p.pins());
  EXPECT_TRUE(p.thread_node.empty());
  EXPECT_TRUE(p.weight_nodes.empty());
  EXPECT_FALSE(p.local_alloc);
  EXPECT_EQ(p.kv_node, -1);
  EXPECT_EQ(p.Describe(), "none (not pinned)");
  // Oversubscription is the user's choice when nothing is pinned.
  EXPECT_EQ(Plan(TwoByFour(), 16, NumaPolicy::kNone).threads, 16);
}

TEST(PlanPlacement, MoreThreadsThanCpusIsAnErrorNamingTheFlag) {
  for (NumaPolicy policy : {NumaPolicy::kInterleave, NumaPolicy::kLocal}) {
    auto p = PlanPlacement(TwoByFour(), 9, policy);
    ASSERT_FALSE(p.ok());
    const std::string m = p.status().message();
    EXPECT_NE(m.find("-t/--threads 9"), std::string::npos) << m;
    EXPECT_NE(m.find("8 CPUs"), std::string::npos) << m;
    EXPECT_NE(m.find("node 1: cpus 4-7"), std::string::npos) << m;
    EXPECT_NE(m.find("--numa none"), std::string::npos) << m;
  }
  // auto never fails on this: it stops pinning and says why.
  const PlacementPlan a = Plan(TwoByFour(), 9, NumaPolicy::kAuto);
  EXPECT_EQ(a.policy, NumaPolicy::kNone);
  EXPECT_FALSE(a.pins());
  ASSERT_EQ(a.notes.size(), 1u);
  EXPECT_NE(a.notes[0].find("9 threads for 8 usable CPUs"), std::string::npos) << a.notes[0];
}

TEST(PlanPlacement, NegativeThreadsNameTheFlag) {
  auto p = PlanPlacement(TwoByFour(), -2, NumaPolicy::kNone);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("-t/--threads"), std::string::npos);
}

TEST(NumaPolicyNames, RoundTripAndUnknownListsValid) {
  for (NumaPolicy p : {NumaPolicy::kAuto, NumaPolicy::kNone, NumaPolicy::kInterleave,
                       NumaPolicy::kLocal}) {
    auto parsed = ParseNumaPolicy(NumaPolicyName(p));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, p);
  }
  auto bad = ParseNumaPolicy("distribute");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "--numa 'distribute': unknown policy; valid: auto, none, interleave, local");
}

TEST(CpuListString, CompressesRuns) {
  EXPECT_EQ(CpuListString({}), "");
  EXPECT_EQ(CpuListString({3}), "3");
  EXPECT_EQ(CpuListString({5, 0, 1, 2, 8, 10, 11}), "0-2,5,8,10-11");
}

}  // namespace
}  // namespace skv
