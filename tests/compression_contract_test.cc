// Contract tests over the whole method registry on a real model (the llama
// fixture, label `model`): a 100% budget reproduces the uncompressed logits
// exactly, budgets are respected in every layer, evicted entries are freed,
// tokens after the compressed prompt continue at position N, and nothing
// depends on the thread count or on the SIMD target the kernels dispatch to.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL  // visit the VNNI target (int8 panel GEMM) too
#endif
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/parallel.h"
#include "compress/method.h"
#include "models/model.h"
#include "runtime/compress_prefill.h"
#include "runtime/session.h"
#include "runtime/session_state.h"
#include "simd/matmul.h"
#include "simd/target_test_util.h"

namespace skv {
namespace {

class CompressionContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("SKV_FIXTURE_DIR");
    if (dir == nullptr) GTEST_SKIP() << "SKV_FIXTURE_DIR not set";
    // The process's prefill GEMM is decided on first use: decide it on the
    // best target, before any test narrows the targets.
    (void)PrefillGemm();
    auto m = Model::Load(std::string(dir) + "/llama-fixture.gguf");
    ASSERT_TRUE(m.ok()) << m.status().message();
    model_ = std::move(m).value();
    uint32_t s = 777;
    for (int i = 0; i < kDoc + kSuffix; ++i) {
      s = s * 1664525u + 1013904223u;
      tokens_.push_back(static_cast<int32_t>(3 + s % (model_->config().n_vocab - 3)));
    }
  }

  // struct_rate: the part of the prompt that propagation keeps (fastkv,
  // structkv); above the KV budget so that budgets are reachable.
  std::unique_ptr<KvMethod> Method(double ratio, double struct_rate) {
    MethodOptions o;
    o.budget.ratio = ratio;
    o.struct_rate = struct_rate;
    o.window = kWindow;
    auto m = CreateKvMethod(GetParam(), o);
    EXPECT_TRUE(m.ok());
    return std::move(m).value();
  }

  Session NewSession() {
    SessionOptions o;
    o.n_ctx = kDoc + kSuffix + 4;
    auto s = Session::Create(*model_, o);
    EXPECT_TRUE(s.ok());
    return std::move(s).value();
  }

  // Original positions of the kept entries, [layer * kv_head][entry].
  static std::vector<std::vector<int32_t>> KeptPositions(const Session& s) {
    std::vector<std::vector<int32_t>> kept;
    for (int64_t l = 0; l < s.kv().n_layers(); ++l) {
      for (int64_t g = 0; g < s.kv().layer(l).n_kv_heads(); ++g) {
        kept.push_back(s.kv().layer(l).Positions(g));
      }
    }
    return kept;
  }

  std::span<const int32_t> Doc() const { return std::span(tokens_).first(kDoc); }
  std::span<const int32_t> Suffix() const { return std::span(tokens_).subspan(kDoc); }

  static constexpr int kDoc = 64, kSuffix = 6, kWindow = 8;
  std::unique_ptr<Model> model_;
  std::vector<int32_t> tokens_;
};

TEST_P(CompressionContract, FullBudgetReproducesUncompressedLogits) {
  auto method = Method(1.0, 1.0);
  // Reference: the same tokens and the same batch split, never compacted.
  Session ref = NewSession();
  if (method->propagates()) {
    ASSERT_TRUE(ref.EvaluateAsOneBatch(Doc(), nullptr).ok());
  } else if (method->scores_needed() == ScoreSource::kWindow) {
    ASSERT_TRUE(ref.Evaluate(Doc().first(kDoc - kWindow), false, nullptr).ok());
    ASSERT_TRUE(ref.Evaluate(Doc().subspan(kDoc - kWindow), false, nullptr).ok());
  } else {
    ASSERT_TRUE(ref.Evaluate(Doc(), false, nullptr).ok());
  }
  std::vector<float> want, got;
  ASSERT_TRUE(ref.Evaluate(Suffix(), true, &want).ok());

  Session s = NewSession();
  auto report = PrefillAndCompress(s, Doc(), *method, kSuffix);
  ASSERT_TRUE(report.ok()) << report.status().message();
  EXPECT_EQ(report->compression_ratio(), 0.0);
  ASSERT_EQ(s.n_past(), kDoc);
  ASSERT_TRUE(s.Evaluate(Suffix(), true, &got).ok());
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)));
}

// A compressed document saved to disk and loaded again (run --save-state /
// --load-state) continues exactly as the session that compressed it: same
// entries, same positions (GemFilter's renumbered ones too), same logits.
TEST_P(CompressionContract, SavedStateContinuesExactly) {
  auto method = Method(0.5, 0.6);
  Session s = NewSession();
  ASSERT_TRUE(PrefillAndCompress(s, Doc(), *method, kSuffix).ok());
  const std::string path = ::testing::TempDir() + "/contract_" + GetParam() + ".skv";
  ASSERT_TRUE(SaveSessionState(s, path, {{"method", GetParam()}}).ok());
  auto loaded = LoadSessionState(*model_, SessionOptions{}, path, kSuffix);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->info["method"], GetParam());
  Session& r = loaded->session;
  EXPECT_EQ(r.n_past(), s.n_past());
  EXPECT_EQ(r.kv().live_bytes(), s.kv().live_bytes());
  EXPECT_EQ(KeptPositions(r), KeptPositions(s));
  std::vector<float> want, got;
  ASSERT_TRUE(s.Evaluate(Suffix(), true, &want).ok());
  ASSERT_TRUE(r.Evaluate(Suffix(), true, &got).ok());
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)));
  std::remove(path.c_str());
}

TEST_P(CompressionContract, BudgetsAreRespectedAndMemoryIsFreed) {
  if (GetParam() == "full") GTEST_SKIP() << "full keeps everything by definition";
  auto method = Method(0.25, 0.5);
  Session s = NewSession();
  auto report = PrefillAndCompress(s, Doc(), *method, kSuffix);
  ASSERT_TRUE(report.ok());
  const int64_t L = model_->config().n_layers;
  int64_t total = 0;
  for (int64_t l = 0; l < L; ++l) {
    const int64_t kept = s.kv().layer(l).length();
    EXPECT_EQ(kept, report->kept_per_layer[l]);
    EXPECT_GE(kept, kWindow);
    // Room for the suffix only (in whole blocks): the evicted entries'
    // memory is gone.
    EXPECT_EQ(s.kv().layer(l).capacity(),
              (kept + kSuffix + kKvBlockSlots - 1) / kKvBlockSlots * kKvBlockSlots);
    // Layer-adaptive budgets only hold on average.
    if (GetParam() != "pyramidkv" && GetParam() != "kvcompose") {
      EXPECT_EQ(kept, kDoc / 4) << "layer " << l;
    }
    total += kept;
  }
  EXPECT_NEAR(static_cast<double>(total) / L, kDoc / 4, 1.0);
  EXPECT_LT(report->kv_bytes_kept, report->kv_bytes_full / 3);
  EXPECT_NEAR(report->compression_ratio(), 0.75, 0.02);
  // The question and answer continue at N + t (GemFilter, the one method
  // that renumbers its kept tokens 0..k-1, at k + t).
  const int64_t next = report->positions_renumbered ? report->kept_per_layer[0] : kDoc;
  ASSERT_EQ(s.n_past(), next);
  std::vector<float> logits;
  ASSERT_TRUE(s.Evaluate(Suffix(), false, &logits).ok());
  EXPECT_EQ(s.n_past(), next + kSuffix);
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
  for (int64_t l = 0; l < L; ++l) {
    const KvView view = s.kv().layer(l).View();
    EXPECT_EQ(*view.Pos(0, view.n - 1), next + kSuffix - 1);  // newest entry's position
  }
}

// The same kept entries (per layer, per KV head) and the same logits after
// the suffix with one thread and with two.
TEST_P(CompressionContract, ResultsDoNotDependOnThreadCount) {
  auto run = [&](int threads, std::vector<std::vector<int32_t>>* kept,
                 std::vector<float>* logits) {
    const int saved = MaxThreads();
    SetThreads(threads);
    auto method = Method(0.25, 0.5);
    Session s = NewSession();
    auto report = PrefillAndCompress(s, Doc(), *method, kSuffix);
    ASSERT_TRUE(report.ok());
    ASSERT_TRUE(s.Evaluate(Suffix(), false, logits).ok());
    SetThreads(saved);
    *kept = KeptPositions(s);
  };
  std::vector<std::vector<int32_t>> kept1, kept2;
  std::vector<float> logits1, logits2;
  run(1, &kept1, &logits1);
  run(2, &kept2, &logits2);
  EXPECT_EQ(kept1, kept2);
  ASSERT_EQ(logits1.size(), logits2.size());
  EXPECT_EQ(0, std::memcmp(logits1.data(), logits2.data(), logits1.size() * sizeof(float)));
}

// The same kept entries on every SIMD target this CPU runs (AVX-512 with and
// without VNNI, AVX2, SSE4, ...): a batch spread over a heterogeneous
// cluster must make the same compression decisions on every node, and a
// saved state must continue the same way on any machine. Every quantised
// product of this fixture's attention (Q8_0) and FFN (Q4_0) runs through the
// integer kernels, whose arithmetic is one and the same on every target
// (simd/quant_dot.h); what remains target-dependent is listed in
// SimdTargetBound below, and the logits are held to it.
TEST_P(CompressionContract, ResultsDoNotDependOnSimdTarget) {
  struct Run {
    std::string name;
    std::vector<std::vector<int32_t>> kept;  // [layer * head]
    std::vector<float> logits;               // [n_vocab]
  };
  std::vector<Run> runs;
  ForEachTarget([&](int64_t target) {
    Run run;
    run.name = hwy::TargetName(target);
    auto method = Method(0.25, 0.5);
    Session s = NewSession();
    auto report = PrefillAndCompress(s, Doc(), *method, kSuffix);
    ASSERT_TRUE(report.ok());
    ASSERT_TRUE(s.Evaluate(Suffix(), false, &run.logits).ok());
    run.kept = KeptPositions(s);
    runs.push_back(std::move(run));
  });
  ASSERT_FALSE(runs.empty());
  const Run& first = runs[0];
  for (size_t t = 1; t < runs.size(); ++t) {
    const Run& other = runs[t];
    EXPECT_EQ(first.kept, other.kept) << first.name << " vs " << other.name;
    ASSERT_EQ(first.logits.size(), other.logits.size());
    float worst = 0.f;
    for (size_t i = 0; i < first.logits.size(); ++i) {
      worst = std::max(worst, std::fabs(first.logits[i] - other.logits[i]));
    }
    std::printf("  %s vs %s: largest logit difference %g\n", first.name.c_str(),
                other.name.c_str(), worst);
    EXPECT_EQ(0, std::memcmp(first.logits.data(), other.logits.data(),
                             first.logits.size() * sizeof(float)))
        << first.name << " vs " << other.name << ": largest difference " << worst;
  }
}

// An evaluation sweep compresses copies of one shared prefill: that must be
// the same as the method's own prefill, at every budget; methods that
// propagate or filter are refused.
TEST_P(CompressionContract, SharedPrefillEqualsOwnPrefill) {
  auto probe_method = Method(0.25, 0.5);
  const Session empty = NewSession();
  if (!CanSharePrefill(*probe_method, model_->config())) {
    auto p = PrefillForSelection(empty, Doc(), ScoreSource::kWindow, probe_method->options());
    ASSERT_TRUE(p.ok());
    Session out = NewSession();
    EXPECT_FALSE(CompressPrefilled(*p, *probe_method, kSuffix, &out).ok());
    return;
  }
  auto shared = PrefillForSelection(empty, Doc(), probe_method->scores_needed(),
                                    probe_method->options());
  ASSERT_TRUE(shared.ok());
  for (double ratio : {0.25, 0.5}) {
    auto method = Method(ratio, 0.5);
    Session own = NewSession(), copy = NewSession();
    auto own_report = PrefillAndCompress(own, Doc(), *method, kSuffix);
    auto copy_report = CompressPrefilled(*shared, *method, kSuffix, &copy);
    ASSERT_TRUE(own_report.ok() && copy_report.ok());
    EXPECT_EQ(own_report->kept_per_layer, copy_report->kept_per_layer);
    std::vector<float> a, b;
    ASSERT_TRUE(own.Evaluate(Suffix(), false, &a).ok());
    ASSERT_TRUE(copy.Evaluate(Suffix(), false, &b).ok());
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << ratio;
  }
  EXPECT_EQ(shared->session.n_past(), kDoc);  // the shared prefill is untouched
}

INSTANTIATE_TEST_SUITE_P(Registry, CompressionContract, [] {
  std::vector<std::string> names;
  for (const auto& m : KvMethods()) names.push_back(m.name);
  return ::testing::ValuesIn(names);
}(), [](const auto& info) { return info.param; });

}  // namespace
}  // namespace skv
