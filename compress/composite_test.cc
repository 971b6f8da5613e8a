// KVCompose's composite tokens and global budget, and GemFilter's token
// filter, on hand-built statistics.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "compress/method.h"

namespace skv {
namespace {

// L layers, 4 query heads over 2 KV heads, n entries; scores [4][n] per layer.
struct Stack {
  int64_t L, n;
  std::vector<std::vector<float>> scores;
  std::vector<LayerScores> Views() const {
    std::vector<LayerScores> v;
    for (int64_t l = 0; l < L; ++l) {
      LayerScores ls;
      ls.layer = l;
      ls.n_layers = L;
      ls.n = n;
      ls.n_heads = 4;
      ls.n_kv_heads = 2;
      ls.scores = scores[l].data();
      v.push_back(ls);
    }
    return v;
  }
};

// Layer l's scores are peaked (a few large entries) when l is odd, flat
// otherwise; the two KV heads prefer different halves of the prefix.
Stack MakeStack() {
  Stack st{4, 80, {}};
  uint32_t s = 7;
  for (int64_t l = 0; l < st.L; ++l) {
    std::vector<float> sc(4 * st.n);
    for (int64_t h = 0; h < 4; ++h) {
      for (int64_t j = 0; j < st.n; ++j) {
        s = s * 1664525u + 1013904223u;
        const float noise = static_cast<float>(s >> 8) / static_cast<float>(1u << 24);
        const bool preferred = (h < 2) == (j < st.n / 2);
        sc[h * st.n + j] = 0.01f * noise + (preferred ? 0.02f : 0.f) +
                           (l % 2 == 1 && j % 10 == 3 ? 0.5f : 0.f);
      }
    }
    st.scores.push_back(std::move(sc));
  }
  return st;
}

MethodOptions Ratio(double r) {
  MethodOptions o;
  o.budget.ratio = r;
  o.window = 4;
  return o;
}

TEST(KvCompose, GlobalBudgetIsExactAndLayerZeroGetsTheLargest) {
  const Stack st = MakeStack();
  auto m = CreateKvMethod("kvcompose", Ratio(0.25));  // 20 of 80 per layer on average
  ASSERT_TRUE(m.ok());
  const std::vector<LayerKeep> keep = (*m)->SelectLayers(st.Views());
  ASSERT_EQ(keep.size(), 4u);
  int64_t total = 0, largest = 0;
  for (const LayerKeep& k : keep) {
    ASSERT_EQ(k.size(), 2u);
    ASSERT_EQ(k[0].size(), k[1].size()) << "dense layers: one count per layer";
    total += static_cast<int64_t>(k[0].size());
    largest = std::max<int64_t>(largest, static_cast<int64_t>(k[0].size()));
    for (const auto& head : k) {
      ASSERT_TRUE(std::is_sorted(head.begin(), head.end()));
      for (int32_t j = 76; j < 80; ++j) {
        EXPECT_TRUE(std::binary_search(head.begin(), head.end(), j)) << "window " << j;
      }
    }
  }
  EXPECT_EQ(total, 4 * 20);
  EXPECT_EQ(static_cast<int64_t>(keep[0][0].size()), largest);
  // Budgets are layer-adaptive: peaked layers earn more than flat ones.
  EXPECT_GT(keep[1][0].size(), keep[2][0].size());
}

// A sliding-window layer (window 21 over 80 entries) stores at most its last
// 20 entries: the budget is a share of what is storable, and nothing a later
// query cannot see is kept.
TEST(KvCompose, SlidingWindowLayersSpendNoBudgetOnDeadEntries) {
  const Stack st = MakeStack();
  std::vector<LayerScores> views = st.Views();
  views[2].sliding_window = 21;
  views[3].sliding_window = 21;
  auto m = CreateKvMethod("kvcompose", Ratio(0.5));
  ASSERT_TRUE(m.ok());
  const std::vector<LayerKeep> keep = (*m)->SelectLayers(views);
  int64_t total = 0;
  for (int64_t l = 0; l < 4; ++l) {
    total += static_cast<int64_t>(keep[l][0].size());
    if (l < 2) continue;
    for (const auto& head : keep[l]) {
      ASSERT_FALSE(head.empty());
      EXPECT_GE(head.front(), 60) << "layer " << l << " keeps an entry nobody can see";
    }
  }
  EXPECT_EQ(total, (80 + 80 + 20 + 20) / 2);
}

TEST(KvCompose, HeadsKeepTheirOwnTopTokens) {
  const Stack st = MakeStack();
  auto m = CreateKvMethod("kvcompose", Ratio(0.25));
  ASSERT_TRUE(m.ok());
  const LayerKeep k = (*m)->Select(st.Views()[2]);  // a flat layer, uniform budget
  ASSERT_EQ(k[0].size(), 20u);
  // Head 0 prefers the first half, head 1 the second (window aside).
  int64_t head0_first = 0, head1_first = 0;
  for (int32_t j : k[0]) head0_first += j < 40;
  for (int32_t j : k[1]) head1_first += j < 40;
  EXPECT_EQ(head0_first, 16);
  EXPECT_EQ(head1_first, 0);
  // Exactly the head's top scores: group mean plus the mean over heads.
  std::vector<float> s(80);
  const float* sc = st.scores[2].data();
  for (int64_t j = 0; j < 80; ++j) {
    const float g0 = (sc[j] + sc[80 + j]) / 2, g1 = (sc[160 + j] + sc[240 + j]) / 2;
    s[j] = j >= 76 ? std::numeric_limits<float>::infinity() : g0 + (g0 + g1) / 2;
  }
  std::vector<int32_t> order(80);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return s[a] > s[b]; });
  order.resize(20);
  std::sort(order.begin(), order.end());
  EXPECT_EQ(k[0], order);
}

TEST(GemFilter, KeepsTheTopPooledLogitsOfTheLastQueryPlusTheWindow) {
  const int64_t n = 60;
  std::vector<float> logits(4 * n, 0.f);  // [4 heads][n]
  for (int64_t h = 0; h < 4; ++h) {
    for (int64_t j = 0; j < n; ++j) logits[h * n + j] = -1.f;
    logits[h * n + 30] = 8.f;  // a peak: pooling (kernel 5) spreads it to 28..32
  }
  logits[0 * n + 10] = -std::numeric_limits<float>::infinity();  // masked for one head
  LayerScores ls;
  ls.n = n;
  ls.n_heads = 4;
  ls.n_kv_heads = 2;
  ls.last_logits = logits.data();
  MethodOptions o = Ratio(0.15);  // 9 tokens
  auto m = CreateKvMethod("gemfilter", o);
  ASSERT_TRUE(m.ok());
  const std::vector<int32_t> kept = (*m)->FilterTokens(ls);
  const std::vector<int32_t> want = {28, 29, 30, 31, 32, 56, 57, 58, 59};
  EXPECT_EQ(kept, want);
}

TEST(GemFilter, FilterLayerIsScaledAndSkipsSlidingWindowLayers) {
  auto m = CreateKvMethod("gemfilter", Ratio(0.1));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->FilterLayer(std::vector<int64_t>(32, 0)), 13);
  // Gemma 3 (18 layers, global every 6th from 5): scaled 7 is local -> 11.
  std::vector<int64_t> gemma(18, 512);
  for (int l = 5; l < 18; l += 6) gemma[l] = 0;
  EXPECT_EQ((*m)->FilterLayer(gemma), 11);
}

}  // namespace
}  // namespace skv
