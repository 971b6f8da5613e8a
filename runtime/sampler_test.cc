#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace skv {
namespace {

TEST(Sampler, GreedyPicksArgmaxWithLowestIdOnTies) {
  SamplerOptions o;
  o.temperature = 0.f;
  auto s = Sampler::Create(o);
  ASSERT_TRUE(s.ok());
  std::vector<float> logits = {0.f, 3.f, 1.f, 3.f};
  EXPECT_EQ(s->Sample(logits), 1);
}

TEST(Sampler, TopKOneIsGreedy) {
  SamplerOptions o;
  o.temperature = 1.5f;
  o.top_k = 1;
  auto s = Sampler::Create(o);
  ASSERT_TRUE(s.ok());
  std::vector<float> logits = {0.5f, 0.1f, 2.f, 1.9f};
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s->Sample(logits), 2);
}

TEST(Sampler, SameSeedSameSequence) {
  SamplerOptions o;
  o.temperature = 1.f;
  o.top_k = 0;
  o.top_p = 1.f;
  o.min_p = 0.f;
  std::vector<float> logits(50);
  for (int i = 0; i < 50; ++i) logits[i] = 0.1f * (i % 7);
  auto a = Sampler::Create(o);
  auto b = Sampler::Create(o);
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<int32_t> xa, xb;
  for (int i = 0; i < 30; ++i) {
    xa.push_back(a->Sample(logits));
    xb.push_back(b->Sample(logits));
  }
  EXPECT_EQ(xa, xb);
}

TEST(Sampler, TopPAndMinPRestrictTheCandidates) {
  // Probabilities ~ {0.643, 0.237, 0.087, 0.032}.
  std::vector<float> logits = {3.f, 2.f, 1.f, 0.f};
  SamplerOptions o;
  o.temperature = 1.f;
  o.top_k = 0;
  o.min_p = 0.f;
  o.top_p = 0.8f;  // keeps the first two (0.643 + 0.237 >= 0.8)
  auto s = Sampler::Create(o);
  ASSERT_TRUE(s.ok());
  std::map<int32_t, int> seen;
  for (int i = 0; i < 2000; ++i) seen[s->Sample(logits)]++;
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_GT(seen[0], seen[1]);

  o.top_p = 1.f;
  o.min_p = 0.3f;  // keeps p >= 0.3 * 0.643 = 0.193: the first two
  auto m = Sampler::Create(o);
  ASSERT_TRUE(m.ok());
  seen.clear();
  for (int i = 0; i < 2000; ++i) seen[m->Sample(logits)]++;
  EXPECT_EQ(seen.size(), 2u);
}

TEST(Sampler, ImpossibleFlagsNameTheFlag) {
  SamplerOptions o;
  o.top_p = 0.f;
  auto s = Sampler::Create(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("--top-p"), std::string::npos);
  o.top_p = 0.9f;
  o.min_p = 2.f;
  s = Sampler::Create(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("--min-p"), std::string::npos);
}

}  // namespace
}  // namespace skv
