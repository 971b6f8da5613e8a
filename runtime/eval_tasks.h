// RULER-style tasks (Hsieh et al. 2024), generated deterministically from a
// seed and sized to a target prompt length by binary search on the model's
// own token count (see shared evaluation.md for the recipes). Each sample is
// split where the question starts: the context part is what a query-agnostic
// run compresses; the question and RULER's answer prefix follow it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "models/model.h"
#include "runtime/eval_text.h"

namespace skv {

enum class MatchKind {
  kAll,   // RULER string_match_all: fraction of the references found
  kPart,  // RULER string_match_part: 1 if any reference is found
};

struct EvalSample {
  std::string task;
  int64_t index = 0;          // sample number within (task, length)
  uint64_t seed = 0;          // the sample's own seed (derived from the run's)
  int64_t target_tokens = 0;  // requested prompt length
  int64_t prompt_tokens = 0;  // measured: context + question + answer prefix
  std::string haystack;       // haystack name ("essays", "noise", ...)
  double depth = -1;          // single-needle depth in [0, 1]; -1: not one
  std::string context;        // instructions + context (compressed span)
  std::string question;       // the question
  std::string answer_prefix;  // RULER's answer prefix, e.g. " The special ..."
  std::vector<std::string> references;
  MatchKind match = MatchKind::kAll;
  int64_t max_new_tokens = 128;  // RULER's generation limit for the task
};

struct TaskInfo {
  const char* name;
  const char* summary;
  MatchKind match;
  int64_t max_new_tokens;
  bool prose_haystack;  // fills with the chosen haystack (else noise/needles/words)
};

// Every task, in one table; "needle" is the depth-controlled single needle
// of the heatmap (its depth comes from the caller).
const std::vector<TaskInfo>& EvalTasks();
std::string EvalTaskNames();
const TaskInfo* FindEvalTask(const std::string& name);

// What the tasks are made of. `prose` is the chosen haystack (essays by
// default); the noise haystack and the word list are always available.
struct TaskSources {
  const Haystack* prose = nullptr;
  const std::vector<std::string>* words = nullptr;
};

// Prompt tokens of a sample as the model will see it (template, BOS).
using TokenCounter = std::function<int64_t(const EvalSample&)>;

// Generates sample `index` of `task` at `target_tokens` (the largest filler
// whose prompt fits), from `seed`. depth in [0, 1] places the needle of the
// "needle" task (required there, ignored elsewhere). Errors name --tasks or
// --lengths (a target too short for the task's fixed parts).
StatusOr<EvalSample> MakeSample(const std::string& task, int64_t target_tokens,
                                uint64_t seed, int64_t index,
                                const TaskSources& sources,
                                const TokenCounter& count, double depth = -1);

// The prompt as two strings: the compressed span (context, inside the chat
// template's user turn for instruct models) and the rest (question, end of
// turn, answer prefix). Base models without a template get the plain RULER
// completion format.
struct PromptParts {
  std::string span;
  std::string rest;
  bool chat = false;  // parse special tokens when encoding
};
StatusOr<PromptParts> SplitEvalPrompt(const Model& model, const EvalSample& sample);

// Token counter over the model's tokenizer (BOS included).
TokenCounter ModelTokenCounter(const Model& model);

}  // namespace skv
