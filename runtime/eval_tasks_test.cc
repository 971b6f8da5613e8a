#include "runtime/eval_tasks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace skv {
namespace {

// Hermetic sources: a synthetic word list and prose of numbered sentences,
// and a "tokenizer" that counts whitespace-separated words.
struct Fixture {
  std::vector<std::string> words;
  Haystack prose;
  TaskSources sources;
  Fixture() {
    EvalRng rng(7);
    std::map<std::string, int> seen;
    while (words.size() < 3000) {
      std::string w = RandomLowerWord(rng, 4 + static_cast<int>(rng.Uniform(5)));
      if (seen[w]++ == 0) words.push_back(w);
    }
    std::string text;
    for (int i = 0; i < 2000; ++i) {
      text += "Sentence number " + std::to_string(i) + " talks about " + words[i] + " and " +
              words[i + 1] + ". ";
    }
    prose = HaystackFromText("prose", "test fixture", text);
    sources = {&prose, &words};
  }
};

int64_t CountWords(const EvalSample& s) {
  std::istringstream in(s.context + " " + s.question + s.answer_prefix);
  int64_t n = 0;
  for (std::string w; in >> w;) ++n;
  return n;
}

const std::vector<std::string> kTasks = {
    "niah_single_1", "niah_single_2", "niah_single_3", "niah_multikey_1", "niah_multikey_2",
    "niah_multikey_3", "niah_multivalue", "niah_multiquery", "vt", "cwe", "fwe", "qa"};

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(EvalTasks, EveryRulerTaskIsInTheTable) {
  for (const std::string& t : kTasks) EXPECT_NE(FindEvalTask(t), nullptr) << t;
  EXPECT_EQ(FindEvalTask("nope"), nullptr);
  EXPECT_EQ(FindEvalTask("qa")->match, MatchKind::kPart);
  EXPECT_EQ(FindEvalTask("vt")->max_new_tokens, 30);
  EXPECT_EQ(FindEvalTask("cwe")->max_new_tokens, 120);
  EXPECT_EQ(FindEvalTask("fwe")->max_new_tokens, 50);
  EXPECT_EQ(FindEvalTask("qa")->max_new_tokens, 32);
  EXPECT_EQ(FindEvalTask("niah_single_1")->max_new_tokens, 128);
}

TEST(EvalTasks, DeterministicPerSeedAndDifferentAcrossSeeds) {
  Fixture f;
  for (const std::string& t : kTasks) {
    auto a = MakeSample(t, 1500, 42, 0, f.sources, CountWords);
    auto b = MakeSample(t, 1500, 42, 0, f.sources, CountWords);
    auto c = MakeSample(t, 1500, 43, 0, f.sources, CountWords);
    auto d = MakeSample(t, 1500, 42, 1, f.sources, CountWords);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok()) << t;
    EXPECT_EQ(a->context, b->context) << t;
    EXPECT_EQ(a->question, b->question) << t;
    EXPECT_EQ(a->references, b->references) << t;
    EXPECT_NE(a->context + a->question, c->context + c->question) << t;
    EXPECT_NE(a->context + a->question, d->context + d->question) << t;
  }
}

TEST(EvalTasks, SizedToTheTargetWithinTolerance) {
  Fixture f;
  for (const std::string& t : kTasks) {
    for (int64_t target : {600, 2000, 5000}) {
      auto s = MakeSample(t, target, 1, 0, f.sources, CountWords);
      ASSERT_TRUE(s.ok()) << t << " " << s.status().message();
      EXPECT_EQ(s->prompt_tokens, CountWords(*s));
      EXPECT_LE(s->prompt_tokens, target) << t;
      // One filler unit more would not fit: the largest unit is a QA document
      // (about 35 words here with its prose) or a noise line (21 words).
      EXPECT_GE(s->prompt_tokens, target - std::max<int64_t>(target / 20, 40))
          << t << " at " << target;
    }
  }
}

TEST(EvalTasks, ReferencesAreInTheContextAndQuestionsName) {
  Fixture f;
  for (const char* t : {"niah_single_1", "niah_single_2", "niah_single_3",
                               "niah_multikey_1", "niah_multikey_2", "niah_multikey_3",
                               "niah_multivalue", "niah_multiquery", "vt", "cwe", "qa"}) {
    auto s = MakeSample(t, 2000, 5, 0, f.sources, CountWords);
    ASSERT_TRUE(s.ok()) << t;
    ASSERT_FALSE(s->references.empty()) << t;
    for (const std::string& r : s->references) {
      EXPECT_NE(s->context.find(r), std::string::npos) << t << ": " << r;
      // The answer must not be given away by the question.
      EXPECT_EQ((s->question + s->answer_prefix).find(r), std::string::npos) << t << ": " << r;
    }
  }
}

TEST(EvalTasks, NiahShapes) {
  Fixture f;
  auto multivalue = MakeSample("niah_multivalue", 2000, 3, 0, f.sources, CountWords);
  ASSERT_TRUE(multivalue.ok());
  EXPECT_EQ(multivalue->references.size(), 4u);
  auto multiquery = MakeSample("niah_multiquery", 2000, 3, 0, f.sources, CountWords);
  ASSERT_TRUE(multiquery.ok());
  EXPECT_EQ(multiquery->references.size(), 4u);
  EXPECT_NE(multiquery->question.find(", and "), std::string::npos);
  auto uuid = MakeSample("niah_single_3", 2000, 3, 0, f.sources, CountWords);
  ASSERT_TRUE(uuid.ok());
  ASSERT_EQ(uuid->references[0].size(), 36u);
  EXPECT_NE(uuid->question.find("uuids"), std::string::npos);
  auto noise = MakeSample("niah_single_1", 2000, 3, 0, f.sources, CountWords);
  ASSERT_TRUE(noise.ok());
  EXPECT_EQ(noise->haystack, "noise");
  EXPECT_GT(Occurrences(noise->context, "The grass is green."), 50u);
  // Distractor haystack: many needles, the queried key exactly once.
  auto mk = MakeSample("niah_multikey_2", 2000, 3, 0, f.sources, CountWords);
  ASSERT_TRUE(mk.ok());
  EXPECT_GT(Occurrences(mk->context, "One of the special magic numbers for"), 50u);
  const std::string q = mk->question;
  const std::string key = q.substr(q.find(" for ") + 5, q.find(" mentioned") - q.find(" for ") - 5);
  EXPECT_EQ(Occurrences(mk->context, " " + key + " is: "), 1u) << key;
}

TEST(EvalTasks, NeedleDepthPlacesTheNeedle) {
  Fixture f;
  double previous = -1;
  for (double depth : {0.0, 0.25, 0.5, 0.75, 1.0}) {
    auto s = MakeSample("needle", 3000, 9, 0, f.sources, CountWords, depth);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->depth, depth);
    const size_t start = s->context.find('\n') + 1;  // after the instruction
    const size_t at = s->context.find("One of the special magic numbers");
    ASSERT_NE(at, std::string::npos);
    const double rel = static_cast<double>(at - start) / (s->context.size() - start);
    EXPECT_NEAR(rel, depth, 0.03) << depth;
    EXPECT_GT(rel, previous);
    previous = rel;
  }
  EXPECT_FALSE(MakeSample("needle", 3000, 9, 0, f.sources, CountWords).ok());
}

TEST(EvalTasks, VariableTrackingChainReadsInOrder) {
  Fixture f;
  auto s = MakeSample("vt", 2000, 11, 0, f.sources, CountWords);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->references.size(), 5u);
  const std::string body = s->context.substr(s->context.rfind("Memorize"));
  size_t last = 0;
  for (size_t i = 0; i < 5; ++i) {
    const size_t at = body.find("VAR " + s->references[i] + " = ");
    ASSERT_NE(at, std::string::npos) << i;
    EXPECT_GT(at, last);
    last = at;
    if (i > 0) {
      EXPECT_NE(body.find("VAR " + s->references[i] + " = VAR " + s->references[i - 1]),
                std::string::npos);
    }
  }
}

TEST(EvalTasks, CommonAndFrequentWordsAreTheMostFrequent) {
  Fixture f;
  auto cwe = MakeSample("cwe", 5000, 2, 0, f.sources, CountWords);
  ASSERT_TRUE(cwe.ok());
  ASSERT_EQ(cwe->references.size(), 10u);
  const std::string list = cwe->context.substr(cwe->context.rfind("Below is"));
  std::map<std::string, int> counts;
  std::istringstream in(list);
  for (std::string line; std::getline(in, line);) {
    const size_t dot = line.find(". ");
    if (dot != std::string::npos && dot > 0 && std::isdigit(static_cast<unsigned char>(line[0]))) {
      ++counts[line.substr(dot + 2)];
    }
  }
  for (const std::string& r : cwe->references) EXPECT_EQ(counts[r], 30) << r;
  int rare = 0;
  for (const auto& [w, n] : counts) rare += n == 3 ? 1 : 0;
  EXPECT_GT(rare, 20);

  auto fwe = MakeSample("fwe", 3000, 2, 0, f.sources, CountWords);
  ASSERT_TRUE(fwe.ok());
  ASSERT_EQ(fwe->references.size(), 3u);
  const std::string coded = fwe->context.substr(fwe->context.rfind("coded words. ") + 13);
  std::map<std::string, int> freq;
  std::istringstream cin(coded);
  for (std::string w; cin >> w;) ++freq[w];
  std::vector<std::pair<int, std::string>> ranked;
  for (const auto& [w, n] : freq) {
    if (w != "....") ranked.emplace_back(n, w);
  }
  std::sort(ranked.rbegin(), ranked.rend());
  EXPECT_GT(freq["...."], ranked[0].first);  // rank 1 is the dots
  for (int i = 0; i < 3; ++i) {
    EXPECT_NE(std::find(fwe->references.begin(), fwe->references.end(), ranked[i].second),
              fwe->references.end())
        << ranked[i].second;
  }
}

TEST(EvalTasks, QaAsksAboutOneDocument) {
  Fixture f;
  auto s = MakeSample("qa", 3000, 4, 0, f.sources, CountWords);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->match, MatchKind::kPart);
  EXPECT_GT(Occurrences(s->context, "Document "), 20u);
  EXPECT_EQ(s->answer_prefix, " Answer:");
}

TEST(EvalTasks, ErrorsNameTheFlag) {
  Fixture f;
  auto unknown = MakeSample("niah_single_9", 2000, 0, 0, f.sources, CountWords);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("--tasks"), std::string::npos);
  auto too_short = MakeSample("vt", 40, 0, 0, f.sources, CountWords);
  ASSERT_FALSE(too_short.ok());
  EXPECT_NE(too_short.status().message().find("--lengths"), std::string::npos);
}

TEST(EvalText, RngIsFixedAndSentencesSplit) {
  // SplitMix64's published first output for seed 0 (Vigna's reference code).
  EvalRng rng(0);
  EXPECT_EQ(rng.Next(), 0xE220A8397B1DCDAFull);
  EvalRng a(5), b(5);
  for (int i = 0; i < 100; ++i) {
    const int64_t v = a.Uniform(10);
    EXPECT_EQ(v, b.Uniform(10));
    EXPECT_GE(v, 0);
    EXPECT_LT(v, 10);
  }
  EXPECT_NE(DeriveSeed(1, "vt", 0), DeriveSeed(1, "vt", 1));
  EXPECT_NE(DeriveSeed(1, "vt", 0), DeriveSeed(1, "cwe", 0));
  const auto s = SplitSentences("One two.  Three?\n\nA heading\nFour is here.Five glued! ");
  const std::vector<std::string> want = {"One two.", "Three?", "A heading Four is here.",
                                         "Five glued!"};
  EXPECT_EQ(s, want);
}

}  // namespace
}  // namespace skv
