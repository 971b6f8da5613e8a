// `structkv eval`: quality you can look at. Generates RULER-style tasks from
// a seed (runtime/eval_tasks.h), answers them with every method x budget x
// length x {query-agnostic, query-aware}, scores them with RULER's string
// matching, and writes DIR/results.jsonl (one row per answer, resumable) and
// DIR/summary.csv. The needle heatmap is the `needle` task over --depths;
// --fidelity compares each compressed cache with the uncompressed one under
// teacher forcing instead (DIR/fidelity.jsonl). Plots and the report:
// tools/scripts/eval_report.py DIR.
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "runtime/bench.h"
#include "runtime/eval_fidelity.h"
#include "runtime/eval_runner.h"
#include "tools/common.h"

namespace skv::tools {
namespace {

struct EvalFlags {
  ModelFlags model;
  RuntimeFlags runtime;
  std::string tasks = "niah_single_1,niah_single_2,niah_single_3,niah_multikey_1,"
                      "niah_multikey_2,niah_multikey_3,niah_multivalue,niah_multiquery,vt,cwe,"
                      "fwe,qa";
  std::string methods = "all";
  std::string budgets = "0.1,0.2,0.5";
  std::string lengths = "2048,4096";
  std::string modes = "agnostic,aware";
  std::string depths = "0,10,20,30,40,50,60,70,80,90,100";
  int64_t samples = 1;
  uint64_t seed = 0;
  std::string haystack = "essays";
  std::string haystack_dir = "models-cache/haystacks";
  std::string out;
  bool fidelity = false;
  int64_t continuation = 128;
  int64_t window = 8;
  bool no_stop_at_newline = false;
  int64_t max_new_tokens = 0;
};

StatusOr<std::vector<double>> ParseDoubles(const std::string& text, const std::string& flag,
                                           double scale) {
  SKV_ASSIGN_OR_RETURN(std::vector<std::string> items, ParseStringList(text, flag));
  std::vector<double> out;
  for (const std::string& s : items) {
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(s, &used);
    } catch (...) {
      used = 0;
    }
    if (used != s.size() || !std::isfinite(v)) {
      return Status::Error(flag + ": '" + s + "' is not a number");
    }
    out.push_back(v * scale);
  }
  return out;
}

StatusOr<EvalConfig> MakeConfig(const EvalFlags& f) {
  EvalConfig c;
  SKV_ASSIGN_OR_RETURN(c.tasks, ParseStringList(f.tasks, "--tasks"));
  if (f.methods == "all") {
    for (const MethodInfo& m : KvMethods()) c.methods.push_back(m.name);
  } else {
    SKV_ASSIGN_OR_RETURN(c.methods, ParseStringList(f.methods, "--methods"));
  }
  SKV_ASSIGN_OR_RETURN(c.budgets, ParseDoubles(f.budgets, "--budgets", 1.0));
  SKV_ASSIGN_OR_RETURN(c.lengths, ParseIntList(f.lengths, "--lengths", 1));
  SKV_ASSIGN_OR_RETURN(c.modes, ParseStringList(f.modes, "--mode"));
  SKV_ASSIGN_OR_RETURN(c.depths, ParseDoubles(f.depths, "--depths", 0.01));
  c.samples = f.samples;
  c.seed = f.seed;
  c.haystack = f.haystack;
  c.haystack_dir = f.haystack_dir;
  c.out_dir = f.out;
  c.method_options.window = f.window;
  c.stop_at_newline = !f.no_stop_at_newline;
  if (f.max_new_tokens < 0) return Status::Error("--max-new-tokens must be >= 0");
  c.max_new_tokens = f.max_new_tokens;
  c.model_name = std::filesystem::path(f.model.path).filename().string();
  // Validate before loading the model, so flag errors come at once.
  SKV_RETURN_IF_ERROR(ValidateEvalConfig(c));
  MethodOptions probe = c.method_options;
  for (const std::string& m : c.methods) {
    SKV_ASSIGN_OR_RETURN(std::unique_ptr<KvMethod> unused, CreateKvMethod(m, probe));
  }
  return c;
}

Status RunEvalCommand(const EvalFlags& f) {
  SKV_ASSIGN_OR_RETURN(EvalConfig config, MakeConfig(f));
  SKV_ASSIGN_OR_RETURN(RuntimeContext ctx,
                       CreateRuntime(f.runtime));
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadModelVerbose(f.model.path, ctx));
  fmt::print(stderr, "{}; methods: {}\n", ctx.Describe(), fmt::join(config.methods, ","));
  if (f.fidelity) return RunFidelity(*model, config, f.continuation);
  return RunEval(*model, config);
}

}  // namespace

void RegisterEval(CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "RULER-style tasks, needle heatmaps and fidelity for every method x budget");
  flags->model.Register(*cmd);
  flags->runtime.Register(*cmd);
  cmd->add_option("--tasks", flags->tasks, "comma-separated tasks: " + EvalTaskNames())
      ->capture_default_str();
  cmd->add_option("--methods", flags->methods,
                  "comma-separated KV methods, or all: " + KvMethodNames())
      ->capture_default_str();
  cmd->add_option("--budgets", flags->budgets, "KV ratios kept, comma-separated")
      ->capture_default_str();
  cmd->add_option("--lengths", flags->lengths, "prompt lengths in tokens, comma-separated")
      ->capture_default_str();
  cmd->add_option("--mode", flags->modes,
                  "agnostic (question after the compressed document), aware, or both")
      ->capture_default_str();
  cmd->add_option("--depths", flags->depths, "needle task: depths in percent")
      ->capture_default_str();
  cmd->add_option("--samples", flags->samples, "samples per task and length")
      ->capture_default_str();
  cmd->add_option("--seed", flags->seed, "seed of the generated tasks")->capture_default_str();
  cmd->add_option("--haystack", flags->haystack, "prose haystack: essays, gcide, fortunes")
      ->capture_default_str();
  cmd->add_option("--haystack-dir", flags->haystack_dir,
                  "folder written by tools/scripts/make_haystacks.py")
      ->capture_default_str();
  cmd->add_option("--out", flags->out, "output folder (results.jsonl, summary.csv)")->required();
  cmd->add_flag("--fidelity", flags->fidelity,
                "compare with the uncompressed cache under teacher forcing instead of tasks");
  cmd->add_option("--continuation", flags->continuation,
                  "fidelity: teacher-forced tokens after each prefix")
      ->capture_default_str();
  cmd->add_option("--window", flags->window, "observation window of the methods")
      ->capture_default_str();
  cmd->add_flag("--no-stop-at-newline", flags->no_stop_at_newline,
                "let completion answers run to the task's token limit");
  cmd->add_option("--max-new-tokens", flags->max_new_tokens,
                  "cap on every task's answer length (0: RULER's limit per task)")
      ->capture_default_str();
  cmd->callback([flags] {
    const Status s = RunEvalCommand(*flags);
    if (!s.ok()) throw CLI::RuntimeError(ReportError(s));
  });
}

}  // namespace skv::tools
