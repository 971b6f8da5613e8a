// `structkv eval`'s loops: tasks x lengths x samples (x needle depths) x
// {query-agnostic, query-aware} x methods x budgets, greedy answers scored by
// RULER's string matching, one JSONL row per answer (resumable, see
// eval_store.h) and a CSV summary. Fidelity runs (eval_fidelity.h) share the
// configuration and the store.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <string>
#include <vector>

#include "base/status.h"
#include "compress/method.h"
#include "models/model.h"
#include "runtime/eval_store.h"
#include "runtime/eval_tasks.h"

namespace skv {

struct EvalConfig {
  std::vector<std::string> tasks;    // EvalTasks() names
  std::vector<std::string> methods;  // KvMethods() names
  std::vector<double> budgets;       // KV ratios in (0, 1]; `full` ignores them
  std::vector<int64_t> lengths;      // target prompt tokens
  std::vector<std::string> modes;    // "agnostic", "aware"
  std::vector<double> depths;        // needle task: depths in [0, 1]
  int64_t samples = 1;               // per (task, length[, depth])
  uint64_t seed = 0;
  std::string haystack = "essays";   // prose haystack (LoadHaystack)
  std::string haystack_dir;          // make_haystacks.py's folder
  std::string out_dir;
  MethodOptions method_options;      // window, pooling, ... (budget set per run)
  // Completion-format answers (base models) end at their first line: without
  // a chat template the model otherwise goes on inventing new questions.
  bool stop_at_newline = true;
  // > 0: caps every task's generation limit (RULER's 128/30/120/50/32).
  int64_t max_new_tokens = 0;
  std::string model_name;            // recorded in every row and key
};

// Checks names and ranges; errors name the flag (--tasks, --methods,
// --budgets, --lengths, --mode, --depths, --samples).
Status ValidateEvalConfig(const EvalConfig& config);

// The configurations one prompt is answered with: `full` once (budget 1),
// every other method at every budget.
struct MethodRun {
  std::string method;
  double budget = 1.0;
};
std::vector<MethodRun> PlanMethodRuns(const EvalConfig& config);

// The resume key of one answer: everything that determines it.
std::string AnswerKey(const EvalConfig& config, const std::string& task, int64_t length,
                      int64_t index, double depth, const std::string& mode,
                      const MethodRun& run);

// Runs every answer whose key is not yet in DIR/results.jsonl, then writes
// DIR/summary.csv. Progress on stderr.
Status RunEval(const Model& model, const EvalConfig& config);

// What one answer produced (the model-facing part of RunEval).
struct AnswerResult {
  std::string text;
  int64_t generated_tokens = 0;
  int64_t max_new_tokens = 0;
  bool stopped_at_eog = false;
  double answer_seconds = 0;
  double prefill_seconds = 0;  // prefill + compression
  double compression_ratio = 0;
  double kept_entries_mean = 0;
  int64_t kv_bytes_kept = 0, kv_bytes_full = 0;
};
// The seams of RunEval, so that the loop (planning, resume, rows, summary)
// is tested without a model: token counting, the prompt's token ids, and one
// compressed prefill + greedy answer.
struct EvalBackend {
  TokenCounter count;
  // Token ids of the compressed span and of the rest of the prompt.
  std::function<StatusOr<std::pair<std::vector<int32_t>, std::vector<int32_t>>>(
      const EvalSample&)> tokenize;
  std::function<StatusOr<AnswerResult>(const std::vector<int32_t>& compressed,
                                       const std::vector<int32_t>& after, const MethodRun& run,
                                       int64_t max_new_tokens, bool stop_at_newline)> answer;
  bool chat = false;  // chat answers end at end-of-turn, not at a newline
};
Status RunEvalWith(const EvalConfig& config, const TaskSources& sources,
                   const std::string& prose_source, const EvalBackend& backend);

// Mean score per (length, task, mode, method, budget) and the unweighted mean
// over tasks ("ALL", RULER's per-length score; the needle task is left out),
// as CSV with a header line. Scores are in percent; se is the standard error
// of the per-sample mean.
std::string SummarizeResults(const std::vector<nlohmann::json>& rows);

}  // namespace skv
