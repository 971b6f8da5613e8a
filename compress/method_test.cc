// Contract and method tests on hand-built attention statistics.
#include "compress/method.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "compress/selection.h"

namespace skv {
namespace {

// A layer with n entries, 4 query heads over 2 KV heads, scores [4][n].
struct Layer {
  int64_t n;
  std::vector<float> scores;
  LayerScores View(int64_t layer = 0, int64_t n_layers = 1) const {
    LayerScores ls;
    ls.layer = layer;
    ls.n_layers = n_layers;
    ls.n = n;
    ls.n_heads = 4;
    ls.n_kv_heads = 2;
    ls.scores = scores.data();
    return ls;
  }
};

Layer RandomLayer(int64_t n, uint32_t seed) {
  Layer l{n, std::vector<float>(4 * n)};
  uint32_t s = seed;
  for (float& v : l.scores) {
    s = s * 1664525u + 1013904223u;
    v = static_cast<float>(s >> 8) / static_cast<float>(1u << 24);
  }
  return l;
}

MethodOptions Options(double ratio, int64_t window = 8) {
  MethodOptions o;
  o.budget.ratio = ratio;
  o.window = window;
  return o;
}

void ExpectValidKeep(const LayerKeep& keep, int64_t n, int64_t count) {
  ASSERT_EQ(keep.size(), 2u);
  for (const auto& head : keep) {
    ASSERT_EQ(static_cast<int64_t>(head.size()), count);
    for (size_t i = 0; i < head.size(); ++i) {
      ASSERT_GE(head[i], 0);
      ASSERT_LT(head[i], n);
      if (i) {
        ASSERT_GT(head[i], head[i - 1]);  // ascending, unique
      }
    }
  }
}

// Every registered method: exact budgets, window kept, full budget keeps all.
TEST(KvMethodContract, BudgetsAreRespectedAndWindowKept) {
  const Layer layer = RandomLayer(100, 3);
  for (const MethodInfo& info : KvMethods()) {
    SCOPED_TRACE(info.name);
    auto method = CreateKvMethod(info.name, Options(0.3));
    ASSERT_TRUE(method.ok());
    const LayerKeep keep = (*method)->Select(layer.View(0, 1));
    // GemFilter chooses its tokens before the final prefill (FilterTokens,
    // tested in composite_test.cc); its cache then holds exactly those.
    const std::string name = info.name;
    const int64_t want = name == "full" || name == "gemfilter" ? 100 : 30;
    ExpectValidKeep(keep, 100, want);
    for (const auto& head : keep) {
      for (int64_t j = 92; j < 100; ++j) {
        EXPECT_TRUE(std::binary_search(head.begin(), head.end(), j)) << j;
      }
    }
    auto all = CreateKvMethod(info.name, Options(1.0));
    ASSERT_TRUE(all.ok());
    ExpectValidKeep((*all)->Select(layer.View(0, 1)), 100, 100);
  }
}

TEST(KvMethodContract, AbsoluteTokenBudget) {
  MethodOptions o = Options(0.5);
  o.budget.tokens = 17;
  auto method = CreateKvMethod("snapkv", o);
  ASSERT_TRUE(method.ok());
  ExpectValidKeep((*method)->Select(RandomLayer(100, 5).View()), 100, 17);
}

TEST(KvMethodContract, UnknownMethodAndBadOptionsNameTheFlag) {
  auto m = CreateKvMethod("magic", Options(0.1));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("--kv 'magic'"), std::string::npos);
  EXPECT_NE(m.status().message().find("snapkv"), std::string::npos);
  auto b = CreateKvMethod("snapkv", Options(1.5));
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("--kv-budget"), std::string::npos);
}

// Kept entries are exactly the top scores of the group-summed, unpooled
// scores (ties to the lower index), and each KV head chooses its own.
TEST(Selection, KeepsExactlyTheTopScoresPerKvHead) {
  const int64_t n = 40, window = 4, keep = 12;
  Layer layer = RandomLayer(n, 11);
  layer.scores[0 * n + 7] = layer.scores[1 * n + 7] = 5.f;   // KV head 0 hub
  layer.scores[2 * n + 9] = layer.scores[3 * n + 9] = 5.f;   // KV head 1 hub
  const std::vector<float> kv = KvHeadScores(layer.View(), window, PoolKind::kNone, 1);
  const LayerKeep got = TopEntriesPerHead(kv, 2, n, keep);
  for (int64_t g = 0; g < 2; ++g) {
    std::vector<std::pair<float, int32_t>> ranked;
    for (int32_t j = 0; j < n - window; ++j) {
      ranked.push_back({layer.scores[(2 * g) * n + j] + layer.scores[(2 * g + 1) * n + j], j});
    }
    std::sort(ranked.begin(), ranked.end(), [](auto a, auto b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    std::set<int32_t> want;
    for (int32_t j = n - window; j < n; ++j) want.insert(j);
    for (int64_t i = 0; i < keep - window; ++i) want.insert(ranked[i].second);
    EXPECT_EQ(std::set<int32_t>(got[g].begin(), got[g].end()), want) << g;
  }
  EXPECT_TRUE(std::binary_search(got[0].begin(), got[0].end(), 7));
  EXPECT_TRUE(std::binary_search(got[1].begin(), got[1].end(), 9));
}

TEST(Selection, TiesGoToTheLowerIndex) {
  const std::vector<float> flat(2 * 10, 1.f);
  const LayerKeep keep = TopEntriesPerHead(flat, 2, 10, 3);
  EXPECT_EQ(keep[0], (std::vector<int32_t>{0, 1, 2}));
}

TEST(Selection, MaxPoolingSpreadsAPeakToItsNeighbours) {
  Layer layer{20, std::vector<float>(4 * 20, 0.f)};
  layer.scores[10] = 1.f;  // query head 0 -> KV head 0
  const std::vector<float> kv = KvHeadScores(layer.View(), 2, PoolKind::kMax, 5);
  for (int64_t j = 8; j <= 12; ++j) EXPECT_EQ(kv[j], 1.f) << j;
  EXPECT_EQ(kv[7], 0.f);
  EXPECT_EQ(kv[13], 0.f);
  EXPECT_TRUE(std::isinf(kv[19]));  // window entries always win
}

TEST(Methods, StreamingLlmKeepsSinksAndRecent) {
  auto m = CreateKvMethod("streamingllm", Options(0.2));
  ASSERT_TRUE(m.ok());
  const LayerKeep keep = (*m)->Select(RandomLayer(100, 1).View());
  std::vector<int32_t> want = {0, 1, 2, 3};
  for (int32_t j = 84; j < 100; ++j) want.push_back(j);
  EXPECT_EQ(keep[0], want);
  EXPECT_EQ(keep[1], want);
}

TEST(Methods, PyramidBudgetsDecreaseWithDepthAroundTheMean) {
  auto m = CreateKvMethod("pyramidkv", Options(0.2));
  ASSERT_TRUE(m.ok());
  const Layer layer = RandomLayer(1000, 2);
  const int64_t L = 8;
  int64_t prev = 1 << 30, total = 0;
  for (int64_t l = 0; l < L; ++l) {
    const int64_t k = static_cast<int64_t>((*m)->Select(layer.View(l, L))[0].size());
    EXPECT_LE(k, prev) << l;
    prev = k;
    total += k;
  }
  EXPECT_NEAR(static_cast<double>(total) / L, 200.0, 2.0);
}

TEST(Methods, H2oKeepsAHeavyHitterOfAccumulatedAttention) {
  // Entry 5 received by far the most attention summed over all queries
  // (H2O's column sums): both KV heads keep it. H2O asks the runtime for
  // all queries' statistics, SnapKV for the window's only.
  Layer all = RandomLayer(60, 4);
  for (int h = 0; h < 4; ++h) all.scores[h * 60 + 5] = 50.f;
  auto h2o = CreateKvMethod("h2o", Options(0.2));
  auto snap = CreateKvMethod("snapkv", Options(0.2));
  ASSERT_TRUE(h2o.ok() && snap.ok());
  const LayerKeep a = (*h2o)->Select(all.View());
  EXPECT_TRUE(std::binary_search(a[0].begin(), a[0].end(), 5));
  EXPECT_TRUE(std::binary_search(a[1].begin(), a[1].end(), 5));
  EXPECT_EQ((*h2o)->scores_needed(), ScoreSource::kAllQueries);
  EXPECT_EQ((*snap)->scores_needed(), ScoreSource::kWindow);
}

TEST(Methods, RandomIsSeededAndRepeatable) {
  MethodOptions o = Options(0.3);
  o.seed = 42;
  auto a = CreateKvMethod("random", o), b = CreateKvMethod("random", o);
  ASSERT_TRUE(a.ok() && b.ok());
  const Layer layer = RandomLayer(50, 9);
  EXPECT_EQ((*a)->Select(layer.View()), (*b)->Select(layer.View()));
}

}  // namespace
}  // namespace skv

namespace skv {
namespace {

// Three layers of window scores over n entries for 4 query heads; the pivot
// is layer 2. Entry `hub` receives a lot of attention in layers 0 and 1 but
// almost none at the pivot layer; entries 20..29 are mildly attended at the
// pivot only.
struct Stack {
  static constexpr int64_t n = 60, hub = 5;
  std::vector<std::vector<float>> layers;
  Stack() {
    for (int l = 0; l < 3; ++l) {
      std::vector<float> s(4 * n, 0.01f);
      for (int h = 0; h < 4; ++h) {
        if (l < 2) s[h * n + hub] = 3.f;
        if (l == 2) {
          for (int j = 20; j < 30; ++j) s[h * n + j] = 0.5f;
        }
      }
      layers.push_back(std::move(s));
    }
  }
  LayerScores View(int64_t l) const {
    LayerScores ls;
    ls.layer = l;
    ls.n_layers = 4;
    ls.n = n;
    ls.prompt = n;
    ls.n_heads = 4;
    ls.n_kv_heads = 2;
    ls.scores = layers[l].data();
    return ls;
  }
};

std::vector<int32_t> Propagate(KvMethod& m, const Stack& st) {
  m.BeginPrefill(4);
  std::vector<int32_t> rows;
  for (int64_t l = 0; l < 3; ++l) {
    std::vector<int32_t> r = m.PropagationRows(st.View(l));
    if (l < 2) {
      EXPECT_TRUE(r.empty()) << "no pruning before the pivot, layer " << l;
    }
    if (l == 2) rows = r;
  }
  return rows;
}

MethodOptions PivotOptions(double lambda) {
  MethodOptions o;
  o.window = 4;
  o.struct_rate = 0.25;  // 15 of 60 entries
  o.pivot = 2;
  o.lambda = lambda;
  o.pool = PoolKind::kNone;
  return o;
}

TEST(StructKv, KeepsAHubThatIsDormantAtThePivotAndFastKvDropsIt) {
  const Stack st;
  auto structkv = CreateKvMethod("structkv", PivotOptions(0.9));
  auto fastkv = CreateKvMethod("fastkv", PivotOptions(0.9));
  ASSERT_TRUE(structkv.ok() && fastkv.ok());
  const std::vector<int32_t> s = Propagate(**structkv, st);
  const std::vector<int32_t> f = Propagate(**fastkv, st);
  ASSERT_EQ(s.size(), 15u);
  ASSERT_EQ(f.size(), 15u);
  EXPECT_TRUE(std::binary_search(s.begin(), s.end(), Stack::hub));
  EXPECT_FALSE(std::binary_search(f.begin(), f.end(), Stack::hub));
  for (int32_t j = 56; j < 60; ++j) {  // the window always propagates
    EXPECT_TRUE(std::binary_search(s.begin(), s.end(), j));
    EXPECT_TRUE(std::binary_search(f.begin(), f.end(), j));
  }
}

TEST(StructKv, LambdaZeroWithFixedPivotSelectsFastKvsSet) {
  const Stack st;
  for (PoolKind pool : {PoolKind::kNone, PoolKind::kMax}) {
    MethodOptions o = PivotOptions(0.0);
    o.pool = pool;
    auto structkv = CreateKvMethod("structkv", o);
    auto fastkv = CreateKvMethod("fastkv", o);
    ASSERT_TRUE(structkv.ok() && fastkv.ok());
    EXPECT_EQ(Propagate(**structkv, st), Propagate(**fastkv, st));
  }
}

TEST(StructKv, KvBudgetIsDecoupledFromTheSkeletonRate) {
  // After the pivot a layer holds only the skeleton (15 entries); its KV
  // budget is still a fraction of the whole prompt, capped by what exists.
  MethodOptions o = PivotOptions(0.9);
  o.budget.ratio = 0.1;  // 6 of 60
  auto m = CreateKvMethod("structkv", o);
  ASSERT_TRUE(m.ok());
  LayerScores after = Stack().View(2);
  std::vector<float> s(4 * 15, 0.1f);
  after.n = 15;
  after.layer = 3;
  after.scores = s.data();
  EXPECT_EQ((*m)->Select(after)[0].size(), 6u);
  o.budget.ratio = 0.5;  // 30 of 60 > 15 present
  auto big = CreateKvMethod("structkv", o);
  EXPECT_EQ((*big)->Select(after)[0].size(), 15u);
}

}  // namespace
}  // namespace skv
