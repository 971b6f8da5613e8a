// Model-level invariants of the runtime on the random-weight fixtures (label
// `model`): batching, prefill + decode and thread count must not change the
// logits beyond float reassociation, and decode continues at position N.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "base/parallel.h"
#include "models/model.h"
#include "runtime/session.h"

namespace skv {
namespace {

std::string FixturePath(const std::string& name) {
  const char* dir = std::getenv("SKV_FIXTURE_DIR");
  return dir ? std::string(dir) + "/" + name : "";
}

class SessionConsistency : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string path = FixturePath(GetParam());
    if (path.empty()) GTEST_SKIP() << "SKV_FIXTURE_DIR not set";
    auto m = Model::Load(path);
    ASSERT_TRUE(m.ok()) << m.status().message();
    model_ = std::move(m).value();
    // A fixed pseudo-random token sequence inside the vocabulary.
    uint32_t s = 12345;
    for (int i = 0; i < kTokens; ++i) {
      s = s * 1664525u + 1013904223u;
      tokens_.push_back(static_cast<int32_t>(s % model_->config().n_vocab));
    }
  }

  std::vector<float> EvalAll(int64_t n_batch, GgmlType kv_type = GgmlType::kF16) {
    SessionOptions o;
    o.n_ctx = kTokens;
    o.n_batch = n_batch;
    o.kv_type = kv_type;
    auto s = Session::Create(*model_, o);
    EXPECT_TRUE(s.ok());
    std::vector<float> logits;
    EXPECT_TRUE(s->Evaluate(tokens_, true, &logits).ok());
    EXPECT_EQ(s->n_past(), kTokens);
    return logits;
  }

  // KL(softmax(a) || softmax(b)) of one row of logits, in nats.
  static double RowKl(const float* a, const float* b, int64_t n) {
    const double ma = *std::max_element(a, a + n), mb = *std::max_element(b, b + n);
    double za = 0, zb = 0;
    for (int64_t i = 0; i < n; ++i) {
      za += std::exp(a[i] - ma);
      zb += std::exp(b[i] - mb);
    }
    double kl = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double la = a[i] - ma - std::log(za), lb = b[i] - mb - std::log(zb);
      kl += std::exp(la) * (la - lb);
    }
    return kl;
  }

  // Two evaluations of the same tokens must give the same distributions up
  // to rounding: like llama.cpp we round activations to 8-bit blocks and
  // f16 before matmuls and attention, so a different batch split (GEMV vs
  // GEMM summation order) can flip individual roundings; a real bug (wrong
  // position, stale cache entry, mask) moves KL by orders of magnitude more.
  static void ExpectSameDistributions(const float* a, const float* b,
                                      int64_t rows, int64_t n,
                                      const std::string& what) {
    double sum = 0, worst = 0;
    int64_t worst_row = 0, same_top = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const double kl = RowKl(a + r * n, b + r * n, n);
      sum += kl;
      if (kl > worst) { worst = kl; worst_row = r; }
      same_top += std::max_element(a + r * n, a + (r + 1) * n) - (a + r * n) ==
                  std::max_element(b + r * n, b + (r + 1) * n) - (b + r * n);
    }
    std::printf("%s: mean KL %.2e, max %.2e (row %lld), same argmax %lld/%lld\n",
                what.c_str(), sum / rows, worst, (long long)worst_row,
                (long long)same_top, (long long)rows);
    EXPECT_LT(sum / rows, kMaxMeanKl) << what;
    EXPECT_LT(worst, kMaxRowKl) << what << " row " << worst_row;
    EXPECT_GE(same_top, rows * 9 / 10) << what;
  }

  static constexpr double kMaxMeanKl = 5e-3;
  static constexpr double kMaxRowKl = 5e-2;
  static constexpr int kTokens = 48;
  std::unique_ptr<Model> model_;
  std::vector<int32_t> tokens_;
};

TEST_P(SessionConsistency, BatchSizeDoesNotChangeLogits) {
  const std::vector<float> one_batch = EvalAll(kTokens);
  const std::vector<float> batched = EvalAll(7);
  ExpectSameDistributions(one_batch.data(), batched.data(), kTokens,
                          model_->config().n_vocab, "batch 48 vs 7");
}

// A one-batch (layer-major) prefill, as structural propagation runs it,
// computes each layer in n_batch-row chunks: bit for bit what batches of
// n_batch tokens compute, so StructKV at 100% budgets costs what full costs.
TEST_P(SessionConsistency, OneBatchPrefillComputesLikeBatches) {
  const int64_t prefix = 40, n_batch = 16;
  std::vector<float> want, got;
  for (const bool one_batch : {false, true}) {
    SessionOptions o;
    o.n_ctx = kTokens;
    o.n_batch = n_batch;
    auto s = Session::Create(*model_, o);
    ASSERT_TRUE(s.ok());
    const auto doc = std::span(tokens_).first(prefix);
    ASSERT_TRUE((one_batch ? s->EvaluateAsOneBatch(doc, nullptr)
                           : s->Evaluate(doc, false, nullptr)).ok());
    ASSERT_EQ(s->n_past(), prefix);
    ASSERT_TRUE(s->Evaluate(std::span(tokens_).subspan(prefix), true,
                            one_batch ? &got : &want).ok());
  }
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)));
}

// --cache-type bf16 / q8_0 store K and V with 8 significant bits or 8-bit
// blocks: the next-token distributions move by far less than a wrong row
// layout or scale would move them (those give KL of order 1).
TEST_P(SessionConsistency, Bf16AndQ8_0CachesStayCloseToF16) {
  const std::vector<float> f16 = EvalAll(16);
  const int64_t V = model_->config().n_vocab;
  for (const GgmlType type : {GgmlType::kBF16, GgmlType::kQ8_0}) {
    const std::vector<float> other = EvalAll(16, type);
    ASSERT_EQ(other.size(), f16.size());
    double sum = 0, worst = 0;
    for (int64_t r = 0; r < kTokens; ++r) {
      const double kl = RowKl(f16.data() + r * V, other.data() + r * V, V);
      sum += kl;
      worst = std::max(worst, kl);
    }
    std::printf("%s cache vs f16: mean KL %.2e, max %.2e\n", GgmlTypeName(type),
                sum / kTokens, worst);
    EXPECT_LT(sum / kTokens, 0.05) << GgmlTypeName(type);
    EXPECT_NE(0, std::memcmp(f16.data(), other.data(), f16.size() * sizeof(float)));
  }
}

TEST_P(SessionConsistency, DecodeAfterPrefillMatchesFullEvaluation) {
  const std::vector<float> full = EvalAll(kTokens);
  const int64_t V = model_->config().n_vocab;
  SessionOptions o;
  o.n_ctx = kTokens;
  auto s = Session::Create(*model_, o);
  ASSERT_TRUE(s.ok());
  const int prompt = 32;
  std::vector<float> logits;
  std::vector<float> stepwise;  // [kTokens - prompt + 1][V]
  ASSERT_TRUE(s->Evaluate(std::span(tokens_).first(prompt), false, &logits).ok());
  ASSERT_EQ(s->n_past(), prompt);  // the next decode position is N
  stepwise.insert(stepwise.end(), logits.begin(), logits.end());
  for (int t = prompt; t < kTokens; ++t) {
    ASSERT_TRUE(s->Evaluate(std::span(tokens_).subspan(t, 1), false, &logits).ok());
    ASSERT_EQ(s->n_past(), t + 1);
    stepwise.insert(stepwise.end(), logits.begin(), logits.end());
  }
  ExpectSameDistributions(full.data() + (prompt - 1) * V, stepwise.data(),
                          kTokens - prompt + 1, V, "prefill+decode vs full");
  // The context is full now: one more token is a clear error naming -c.
  const Status st = s->Evaluate(std::span(tokens_).first(1), false, &logits);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("-c/--ctx-size"), std::string::npos) << st.message();
}

// Every kernel splits work so that each output is computed by one thread in
// a fixed order: the thread count must not change a single bit.
TEST_P(SessionConsistency, ThreadCountDoesNotChangeLogits) {
  const int before = MaxThreads();
  SetThreads(1);
  const std::vector<float> one = EvalAll(16);
  SetThreads(2);
  const std::vector<float> two = EvalAll(16);
  SetThreads(before);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * sizeof(float)));
}

TEST_P(SessionConsistency, InvalidTokenIsRejected) {
  SessionOptions o;
  o.n_ctx = 8;
  auto s = Session::Create(*model_, o);
  ASSERT_TRUE(s.ok());
  const std::vector<int32_t> bad = {1, static_cast<int32_t>(model_->config().n_vocab)};
  const Status st = s->Evaluate(bad, false, nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("outside the vocabulary"), std::string::npos);
  EXPECT_EQ(s->n_past(), 0);
}

// Sliding-window layers that free what no later query can see (Gemma 3, the
// default model: 15 of 18 layers see 512 positions) compute exactly what the
// untrimmed cache computes, prefill and decode, while holding at most the
// window plus one batch and one block in those layers.
TEST(SlidingWindowTrim, SameLogitsBoundedMemory) {
  const char* path = std::getenv("SKV_DEFAULT_MODEL");
  if (path == nullptr || *path == '\0') GTEST_SKIP() << "SKV_DEFAULT_MODEL not set";
  auto m = Model::Load(path);
  ASSERT_TRUE(m.ok()) << m.status().message();
  const Model& model = **m;
  const ModelConfig& c = model.config();
  int64_t window = 0;
  for (const LayerConfig& lc : c.layers) window = std::max(window, lc.sliding_window);
  ASSERT_GT(window, 0) << "the default model has sliding-window layers";
  const int64_t prompt = window + 3 * kKvBlockSlots + 37, decode = 6, n_batch = 128;
  std::vector<int32_t> tokens;
  uint32_t s = 777;
  for (int64_t i = 0; i < prompt + decode; ++i) {
    s = s * 1664525u + 1013904223u;
    tokens.push_back(static_cast<int32_t>(s % 20000));  // ordinary ids
  }
  std::vector<std::vector<float>> logits(2);  // [trim][(decode + 1) * n_vocab]
  std::vector<int64_t> live(2);
  for (int trim = 0; trim < 2; ++trim) {
    SessionOptions o;
    o.n_ctx = prompt + decode;
    o.n_batch = n_batch;
    o.trim_sliding_window = trim == 1;
    auto session = Session::Create(model, o);
    ASSERT_TRUE(session.ok());
    std::vector<float> step;
    ASSERT_TRUE(session->Evaluate(std::span(tokens).first(prompt), false, &step).ok());
    logits[trim] = step;
    for (int64_t t = prompt; t < prompt + decode; ++t) {
      ASSERT_TRUE(session->Evaluate(std::span(tokens).subspan(t, 1), false, &step).ok());
      logits[trim].insert(logits[trim].end(), step.begin(), step.end());
    }
    live[trim] = session->kv().live_bytes();
    for (int64_t l = 0; l < c.n_layers; ++l) {
      const int64_t len = session->kv().layer(l).length();
      if (trim == 1 && c.layers[l].sliding_window > 0) {
        EXPECT_LE(len, c.layers[l].sliding_window + n_batch + kKvBlockSlots) << "layer " << l;
        EXPECT_GE(len, c.layers[l].sliding_window - 1) << "layer " << l;
      } else {
        EXPECT_EQ(len, prompt + decode) << "layer " << l;
      }
    }
  }
  ASSERT_EQ(logits[0].size(), logits[1].size());
  EXPECT_EQ(0, std::memcmp(logits[0].data(), logits[1].data(),
                           logits[0].size() * sizeof(float)));
  EXPECT_LT(live[1], live[0]);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SessionConsistency,
                         ::testing::Values("llama-fixture.gguf",
                                           "qwen2-fixture.gguf"),
                         [](const auto& info) {
                           return info.param.substr(0, info.param.find('-'));
                         });

}  // namespace
}  // namespace skv
