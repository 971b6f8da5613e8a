// StructKV's pivot metrics and online rule on hand-built attention rows.
#include "compress/pivot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace skv {
namespace {

// One query head over one KV head, w window rows of n entries.
struct Rows {
  int64_t n, w;
  std::vector<float> rows;    // [1][w][n]
  std::vector<float> scores;  // [1][n] sum over the rows
  Rows(int64_t n_, int64_t w_) : n(n_), w(w_), rows(w_ * n_, 0.f), scores(n_, 0.f) {}
  void Finish() {
    for (int64_t i = 0; i < w; ++i) {
      for (int64_t j = 0; j < n; ++j) scores[j] += rows[i * n + j];
    }
  }
  LayerScores View() const {
    LayerScores ls;
    ls.n = n;
    ls.n_heads = 1;
    ls.n_kv_heads = 1;
    ls.scores = scores.data();
    ls.rows = rows.data();
    ls.window_rows = w;
    return ls;
  }
};

TEST(PivotMetrics, UniformRowsHaveFullEntropyAndNoVariance) {
  Rows r(100, 4);
  for (float& p : r.rows) p = 0.01f;
  r.Finish();
  const LayerPivotMetrics m = MeasurePivotMetrics(r.View(), 4, 10);
  EXPECT_NEAR(m.entropy, 1.0, 1e-5);
  EXPECT_NEAR(m.sparsity, 0.10, 1e-5);  // 10 of the 96 non-sink entries
  EXPECT_NEAR(m.variance, 0.0, 1e-9);
}

TEST(PivotMetrics, OneHotRowsAreSparseAndSinksDoNotCount) {
  Rows r(100, 2);
  r.rows[0 * 100 + 50] = 1.f;  // row 0: all mass on entry 50
  r.rows[1 * 100 + 0] = 1.f;   // row 1: all mass on the sink
  r.Finish();
  const LayerPivotMetrics m = MeasurePivotMetrics(r.View(), 2, 10);
  EXPECT_NEAR(m.entropy, 0.0, 1e-9);
  EXPECT_NEAR(m.sparsity, 0.5, 1e-6);  // 1 for row 0, 0 for row 1
  // S over entries 4..97: one entry holds it all -> S/mean = 94 there, 0
  // elsewhere; variance = (93^2 + 93 * 1) / 94 = 93.
  EXPECT_NEAR(m.variance, 93.0, 1e-3);
}

TEST(PivotMetrics, EntropyIsNormalisedByTheRowsSupport) {
  Rows r(100, 1);
  for (int j = 90; j < 100; ++j) r.rows[j] = 0.1f;  // a 10-key window
  r.Finish();
  EXPECT_NEAR(MeasurePivotMetrics(r.View(), 1, 5).entropy, 1.0, 1e-5);
}

// Feeds metrics with the given variances (entropy and sparsity flat).
int64_t FirePoint(int64_t L, const std::vector<double>& variance,
                  const std::vector<bool>& measured = {}) {
  PivotDetector d(L);
  for (int64_t l = 0; l < L; ++l) {
    LayerPivotMetrics m;
    m.layer = l;
    m.measured = measured.empty() || measured[l];
    m.entropy = 0.5;
    m.sparsity = 0.5;
    m.variance = variance[l];
    if (d.Observe(m)) return l;
  }
  return -1;
}

TEST(PivotDetector, FiresTheLayerAfterTheBandsTransitionPeak) {
  // L = 20: band [5, 13]. Variance flat, jumps at 8, then flat again:
  // T_8 is the band's maximum and T_9 falls below it -> cut after 9.
  std::vector<double> v(20);
  for (int l = 0; l < 20; ++l) v[l] = l < 8 ? 1.0 : 10.0;
  PivotDetector d(20);
  EXPECT_EQ(d.band_begin(), 5);
  EXPECT_EQ(d.band_end(), 13);
  EXPECT_EQ(FirePoint(20, v), 9);
}

TEST(PivotDetector, FiresAtTheBandsEndWithoutAPeak) {
  std::vector<double> v(20);
  for (int l = 0; l < 20; ++l) v[l] = l * l;  // ever faster growth: T rises
  EXPECT_EQ(FirePoint(20, v), 13);
}

TEST(PivotDetector, NeverFiresBeforeTheBand) {
  std::vector<double> v(20, 1.0);
  v[2] = 50.0;  // a transition at layer 2 is outside the band
  EXPECT_GE(FirePoint(20, v), 5);
}

TEST(PivotDetector, SlidingWindowLayersCarryTheLastMeasurement) {
  // Local layers (unmeasured, zero metrics) must not look like transitions.
  std::vector<double> v(20, 0.0);
  std::vector<bool> measured(20, false);
  for (int l = 5; l < 20; l += 6) {
    measured[l] = true;
    v[l] = 1.0 + l;
  }
  PivotDetector d(20);
  for (int64_t l = 0; l < 12; ++l) {
    LayerPivotMetrics m;
    m.layer = l;
    m.measured = measured[l];
    m.variance = v[l];
    d.Observe(m);
    if (!measured[l]) {
      EXPECT_EQ(m.transition, 0.0) << l;
      if (l > 5) {
        EXPECT_EQ(m.variance, v[5]) << l;
      }
    }
  }
}

// The method end to end: with a fixed pivot it cuts there; in auto mode it
// cuts where the detector fires and records the metrics.
TEST(StructKvPivot, AutoModeCutsWhereTheDetectorFires) {
  const int64_t L = 20, n = 64;
  std::vector<std::vector<float>> scores(L, std::vector<float>(4 * n));
  for (int64_t l = 0; l < L; ++l) {
    for (int64_t h = 0; h < 4; ++h) {
      for (int64_t j = 0; j < n; ++j) {
        // Attention concentrates on few entries from layer 8 on.
        scores[l][h * n + j] = l < 8 ? 1.f : (j % 16 == 0 ? 16.f : 0.01f);
      }
    }
  }
  MethodOptions o;
  o.window = 4;
  o.pivot = kPivotAuto;
  o.pool = PoolKind::kNone;
  auto m = CreateKvMethod("structkv", o);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->wants_window_rows());
  (*m)->BeginPrefill(L);
  int64_t cut = -1;
  for (int64_t l = 0; l < L && cut < 0; ++l) {
    LayerScores ls;
    ls.layer = l;
    ls.n_layers = L;
    ls.n = n;
    ls.n_heads = 4;
    ls.n_kv_heads = 2;
    ls.scores = scores[l].data();
    if (!(*m)->PropagationRows(ls).empty()) cut = l;
  }
  EXPECT_EQ(cut, 8 + 1);
  const PropagationTrace* t = (*m)->propagation_trace();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->pivot, cut);
  EXPECT_EQ(static_cast<int64_t>(t->layers.size()), cut + 1);
  EXPECT_GT(t->layers[8].transition, 0.0);
}

TEST(StructKvPivot, AutoIsStructKvsOnly) {
  MethodOptions o;
  o.pivot = kPivotAuto;
  auto f = CreateKvMethod("fastkv", o);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("--pivot"), std::string::npos);
}

}  // namespace
}  // namespace skv
