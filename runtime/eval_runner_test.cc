#include "runtime/eval_runner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace skv {
namespace {

std::string TempDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("skv_eval_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ResultStore, JsonlRoundTrip) {
  const std::string path = TempDir("roundtrip") + "/sub/results.jsonl";
  {
    auto store = ResultStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status().message();
    ASSERT_TRUE(store->Append({{"key", "a"}, {"score", 0.5}, {"text", "line\nbreak \"q\""}}).ok());
    ASSERT_TRUE(store->Append({{"key", "b"}, {"refs", {"x", "y"}}}).ok());
    EXPECT_FALSE(store->Append({{"nokey", 1}}).ok());
  }
  auto again = ResultStore::Open(path);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->rows().size(), 2u);
  EXPECT_TRUE(again->Done("a"));
  EXPECT_TRUE(again->Done("b"));
  EXPECT_FALSE(again->Done("c"));
  EXPECT_EQ(again->rows()[0]["text"], "line\nbreak \"q\"");
  EXPECT_EQ(again->rows()[1]["refs"][1], "y");
  EXPECT_EQ(again->ignored_lines(), 0);
}

TEST(ResultStore, LineCutShortByAKillIsIgnoredAndNotGlued) {
  const std::string path = TempDir("cut") + "/results.jsonl";
  {
    std::ofstream out(path);
    out << "{\"key\":\"a\",\"score\":1}\n{\"key\":\"b\",\"sco";  // killed mid-line
  }
  {
    auto store = ResultStore::Open(path);
    ASSERT_TRUE(store.ok());
    EXPECT_EQ(store->rows().size(), 1u);
    EXPECT_EQ(store->ignored_lines(), 1);
    EXPECT_FALSE(store->Done("b"));
    ASSERT_TRUE(store->Append({{"key", "b"}, {"score", 0}}).ok());
  }
  auto again = ResultStore::Open(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->rows().size(), 2u);
  EXPECT_TRUE(again->Done("b"));
}

TEST(ProgressBar, RendersCountsAndEta) {
  ProgressBar bar(10, 2);
  EXPECT_NE(bar.Render("x", 1.0).find("2/10"), std::string::npos);
  EXPECT_NE(bar.Render("x", 1.0).find("ETA --"), std::string::npos);  // no rate yet
  bar.Skip(3);  // 5/10; Render's rate counts only work done by this run
  const std::string line = bar.Render("label", 3.0);
  EXPECT_NE(line.find("5/10"), std::string::npos) << line;
  EXPECT_NE(line.find("50%"), std::string::npos) << line;
  EXPECT_NE(line.find("label"), std::string::npos) << line;
}

EvalConfig SmallConfig(const std::string& out) {
  EvalConfig c;
  c.tasks = {"niah_single_1", "vt", "needle"};
  c.methods = {"full", "snapkv"};
  c.budgets = {0.2, 0.5};
  c.lengths = {300};
  c.modes = {"agnostic", "aware"};
  c.depths = {0.0, 1.0};
  c.samples = 1;
  c.out_dir = out;
  c.model_name = "fake.gguf";
  return c;
}

TEST(EvalRunner, PlanKeysAndValidation) {
  EvalConfig c = SmallConfig("/tmp/x");
  const auto runs = PlanMethodRuns(c);
  ASSERT_EQ(runs.size(), 3u);  // full once, snapkv at two budgets
  EXPECT_EQ(runs[0].method, "full");
  EXPECT_EQ(runs[0].budget, 1.0);
  std::set<std::string> keys;
  for (const std::string& mode : c.modes) {
    for (const MethodRun& r : runs) {
      for (double d : {-1.0, 0.0, 1.0}) {
        keys.insert(AnswerKey(c, "needle", 300, 0, d, mode, r));
      }
    }
  }
  EXPECT_EQ(keys.size(), 2u * 3u * 3u);
  EvalConfig other = c;
  other.seed = 1;
  EXPECT_NE(AnswerKey(c, "vt", 300, 0, -1, "aware", runs[1]),
            AnswerKey(other, "vt", 300, 0, -1, "aware", runs[1]));
  other = c;
  other.method_options.window = 16;
  EXPECT_NE(AnswerKey(c, "vt", 300, 0, -1, "aware", runs[1]),
            AnswerKey(other, "vt", 300, 0, -1, "aware", runs[1]));

  EXPECT_TRUE(ValidateEvalConfig(c).ok());
  auto expect_flag = [](EvalConfig bad, const char* flag) {
    const Status s = ValidateEvalConfig(bad);
    ASSERT_FALSE(s.ok()) << flag;
    EXPECT_NE(s.message().find(flag), std::string::npos) << s.message();
  };
  EvalConfig bad = c;
  bad.methods = {"snapkv", "nosuch"};
  expect_flag(bad, "--methods");
  bad = c;
  bad.budgets = {0.0};
  expect_flag(bad, "--budgets");
  bad = c;
  bad.modes = {"sideways"};
  expect_flag(bad, "--mode");
  bad = c;
  bad.tasks = {"niah_single_7"};
  expect_flag(bad, "--tasks");
  bad = c;
  bad.depths = {};
  expect_flag(bad, "--depths");
  bad = c;
  bad.lengths = {64};
  expect_flag(bad, "--lengths");
}

// The loop with a fake model: counts words, answers with the first
// reference for `full` and nothing otherwise, and can fail after N answers
// (a kill). A restart must answer exactly the rest.
struct FakeBackend {
  int64_t calls = 0;
  int64_t fail_after = -1;
  std::map<std::string, std::string> first_reference;  // question -> answer
  EvalBackend Make() {
    EvalBackend b;
    b.count = [](const EvalSample& s) {
      std::istringstream in(s.context + " " + s.question + s.answer_prefix);
      int64_t n = 0;
      for (std::string w; in >> w;) ++n;
      return n;
    };
    b.tokenize = [this](const EvalSample& s)
        -> StatusOr<std::pair<std::vector<int32_t>, std::vector<int32_t>>> {
      // Encode the question length in the ids so `answer` can find it.
      first_reference[std::to_string(s.question.size())] = s.references[0];
      return std::make_pair(std::vector<int32_t>(10, 1),
                            std::vector<int32_t>(1, static_cast<int32_t>(s.question.size())));
    };
    b.answer = [this](const std::vector<int32_t>& compressed, const std::vector<int32_t>& after,
                      const MethodRun& r, int64_t max_new, bool) -> StatusOr<AnswerResult> {
      if (fail_after >= 0 && calls >= fail_after) return Status::Error("killed");
      ++calls;
      AnswerResult a;
      // Aware mode moved the rest into the span: the question id is then
      // the last span token.
      const int32_t q = compressed.size() > 10 ? compressed[10] : after[0];
      a.text = r.method == "full" ? first_reference[std::to_string(q)] : "no idea";
      a.max_new_tokens = max_new;
      return a;
    };
    return b;
  }
};

struct Sources {
  std::vector<std::string> words;
  Haystack prose;
  Sources() {
    EvalRng rng(3);
    for (int i = 0; i < 2000; ++i) words.push_back(RandomLowerWord(rng, 6));
    std::string text;
    for (int i = 0; i < 500; ++i) text += "Plain sentence " + std::to_string(i) + " here. ";
    prose = HaystackFromText("prose", "fixture", text);
  }
};

TEST(EvalRunner, ResumeSkipsFinishedAnswersAndLosesNone) {
  const std::string dir = TempDir("resume");
  const EvalConfig c = SmallConfig(dir);
  Sources src;
  const TaskSources sources{&src.prose, &src.words};
  // 4 units (niah_single_1, vt, needle at 2 depths) x 2 modes x 3 runs.
  const int64_t total = 4 * 2 * 3;
  FakeBackend first;
  first.fail_after = 7;
  EXPECT_FALSE(RunEvalWith(c, sources, "fixture", first.Make()).ok());
  EXPECT_EQ(first.calls, 7);
  FakeBackend second;
  ASSERT_TRUE(RunEvalWith(c, sources, "fixture", second.Make()).ok());
  EXPECT_EQ(second.calls, total - 7);
  FakeBackend third;
  ASSERT_TRUE(RunEvalWith(c, sources, "fixture", third.Make()).ok());
  EXPECT_EQ(third.calls, 0);
  auto store = ResultStore::Open(dir + "/results.jsonl");
  ASSERT_TRUE(store.ok());
  ASSERT_EQ(static_cast<int64_t>(store->rows().size()), total);
  std::set<std::string> keys;
  for (const auto& row : store->rows()) {
    keys.insert(row["key"].get<std::string>());
    // full answers with the reference (score 1), the others with nothing.
    const bool full = row["method"] == "full";
    EXPECT_EQ(row["score"].get<double>() > 0, full) << row.dump();
    EXPECT_EQ(row["haystack_source"], row["task"] == "needle" ? "fixture" : row["haystack"]);
  }
  EXPECT_EQ(static_cast<int64_t>(keys.size()), total);
  const std::string summary = ReadAll(dir + "/summary.csv");
  // full: niah 1, vt 1/5 (one of the five names) -> 60; the needle is not in ALL.
  EXPECT_NE(summary.find("fake.gguf,mixed,300,ALL,agnostic,full,1,2,60.00,0.00"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("fake.gguf,mixed,300,ALL,aware,snapkv,0.2,2,0.00,0.00"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("fake.gguf,prose,300,needle,agnostic,full,1,2,100.00,0.00"),
            std::string::npos)
      << summary;
}

TEST(EvalRunner, SummaryMeansAndStandardErrors) {
  std::vector<nlohmann::json> rows;
  for (double s : {1.0, 0.0, 1.0, 1.0}) {
    rows.push_back({{"kind", "task"}, {"model", "m"}, {"task", "vt"}, {"length", 100},
                    {"mode", "aware"}, {"method", "h2o"}, {"budget", 0.1}, {"score", s}});
  }
  rows.push_back({{"kind", "task"}, {"model", "m"}, {"task", "qa"}, {"length", 100},
                  {"mode", "aware"}, {"method", "h2o"}, {"budget", 0.1}, {"score", 0.0}});
  const std::string csv = SummarizeResults(rows);
  // vt: mean 0.75, sample sd sqrt(0.25 * 4 / 3 ... ) -> se = sqrt(0.25/4) = 0.25.
  EXPECT_NE(csv.find("m,mixed,100,vt,aware,h2o,0.1,4,75.00,25.00"), std::string::npos) << csv;
  // ALL: unweighted mean over tasks (75 and 0), not over samples.
  EXPECT_NE(csv.find("m,mixed,100,ALL,aware,h2o,0.1,5,37.50,12.50"), std::string::npos) << csv;
}

}  // namespace
}  // namespace skv
