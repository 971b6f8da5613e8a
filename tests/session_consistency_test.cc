// Model-level invariants of the runtime on the random-weight fixtures (label
// `model`): batching, prefill + decode and thread count must not change the
// logits beyond float reassociation, and decode continues at position N.
#include <gtest/gtest.h>

#include <cmath>
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

  std::vector<float> EvalAll(int64_t n_batch) {
    SessionOptions o;
    o.n_ctx = kTokens;
    o.n_batch = n_batch;
    auto s = Session::Create(*model_, o);
    EXPECT_TRUE(s.ok());
    std::vector<float> logits;
    EXPECT_TRUE(s->Evaluate(tokens_, true, &logits).ok());
    EXPECT_EQ(s->n_past(), kTokens);
    return logits;
  }

  // Max |a - b| relative to the largest |logit| of the row.
  static void ExpectClose(const float* a, const float* b, int64_t n,
                          const std::string& what) {
    double worst = 0, scale = 1e-6;
    int64_t at = 0;
    for (int64_t i = 0; i < n; ++i) {
      scale = std::max(scale, std::abs(double(a[i])));
      const double d = std::abs(double(a[i]) - b[i]);
      if (d > worst) { worst = d; at = i; }
    }
    EXPECT_LT(worst / scale, 2e-3) << what << ": worst at " << at << ": "
                                   << a[at] << " vs " << b[at];
  }

  static constexpr int kTokens = 48;
  std::unique_ptr<Model> model_;
  std::vector<int32_t> tokens_;
};

TEST_P(SessionConsistency, BatchSizeDoesNotChangeLogits) {
  const std::vector<float> one_batch = EvalAll(kTokens);
  const std::vector<float> batched = EvalAll(7);
  const int64_t V = model_->config().n_vocab;
  for (int t = 0; t < kTokens; ++t) {
    ExpectClose(one_batch.data() + t * V, batched.data() + t * V,
                V, "token " + std::to_string(t));
  }
}

TEST_P(SessionConsistency, DecodeAfterPrefillMatchesFullEvaluation) {
  const std::vector<float> full = EvalAll(kTokens);
  const int64_t V = model_->config().n_vocab;
  SessionOptions o;
  o.n_ctx = kTokens;
  auto s = Session::Create(*model_, o);
  ASSERT_TRUE(s.ok());
  const int prompt = 40;
  std::vector<float> logits;
  ASSERT_TRUE(s->Evaluate(std::span(tokens_).first(prompt), false, &logits).ok());
  ASSERT_EQ(s->n_past(), prompt);  // the next decode position is N
  ExpectClose(full.data() + (prompt - 1) * V, logits.data(), V, "prefill last");
  for (int t = prompt; t < kTokens; ++t) {
    ASSERT_TRUE(s->Evaluate(std::span(tokens_).subspan(t, 1), false, &logits).ok());
    ASSERT_EQ(s->n_past(), t + 1);
    ExpectClose(full.data() + t * V, logits.data(), V, "decode " + std::to_string(t));
  }
  // The context is full now: one more token is a clear error naming -c.
  const Status st = s->Evaluate(std::span(tokens_).first(1), false, &logits);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("-c/--ctx-size"), std::string::npos) << st.message();
}

TEST_P(SessionConsistency, ThreadCountDoesNotChangeArgmax) {
  const int before = MaxThreads();
  SetThreads(1);
  const std::vector<float> one = EvalAll(16);
  SetThreads(2);
  const std::vector<float> two = EvalAll(16);
  SetThreads(before);
  const int64_t V = model_->config().n_vocab;
  for (int t = 0; t < kTokens; ++t) {
    ExpectClose(one.data() + t * V, two.data() + t * V, V,
                "token " + std::to_string(t));
  }
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

INSTANTIATE_TEST_SUITE_P(Fixtures, SessionConsistency,
                         ::testing::Values("llama-fixture.gguf",
                                           "qwen2-fixture.gguf"),
                         [](const auto& info) {
                           return info.param.substr(0, info.param.find('-'));
                         });

}  // namespace
}  // namespace skv
