#include "runtime/eval_runner.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <tuple>

#include "runtime/compress_prefill.h"
#include "runtime/eval_score.h"
#include "runtime/generate.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

namespace skv {
namespace {

std::string Num(double v) { return fmt::format("{:.4g}", v); }

const char* PoolName(PoolKind k) {
  return k == PoolKind::kMax ? "max" : k == PoolKind::kAvg ? "avg" : "none";
}

bool IsFull(const std::string& method) { return method == "full"; }

struct Answer {
  std::string text;
  int64_t tokens = 0;
  double seconds = 0;  // question prefill + decoding
  bool eog = false;
};

// Greedy answer after the (compressed) span: the rest of the prompt, then up
// to max_new tokens; completion answers end at their first line.
StatusOr<Answer> GenerateAnswer(Session& session, const std::vector<int32_t>& rest,
                                int64_t max_new, bool stop_at_newline) {
  SamplerOptions so;
  so.temperature = 0.f;  // greedy, as RULER scores
  SKV_ASSIGN_OR_RETURN(Sampler sampler, Sampler::Create(so));
  const Tokenizer& tok = session.model().tokenizer();
  Answer a;
  SKV_ASSIGN_OR_RETURN(
      GenerationStats stats,
      ContinueGeneration(session, sampler, rest, max_new, [&](int32_t id) {
        const std::string piece = tok.TokenToPiece(id, false);
        if (stop_at_newline && piece.find('\n') != std::string::npos &&
            a.text.find_first_not_of(" \n") != std::string::npos) {
          return false;
        }
        a.text += piece;
        return true;
      }));
  a.tokens = stats.generated_tokens;
  a.seconds = stats.prefill_seconds + stats.decode_seconds;
  a.eog = stats.stopped_at_eog;
  return a;
}

// One generated prompt: which sample, at which length and depth.
struct Unit {
  int64_t length;
  std::string task;
  int64_t index;
  double depth;  // -1 unless the needle task
};

std::vector<Unit> PlanUnits(const EvalConfig& c) {
  std::vector<Unit> units;
  for (int64_t len : c.lengths) {
    for (const std::string& task : c.tasks) {
      for (int64_t i = 0; i < c.samples; ++i) {
        if (task == "needle") {
          for (double d : c.depths) units.push_back({len, task, i, d});
        } else {
          units.push_back({len, task, i, -1});
        }
      }
    }
  }
  return units;
}

}  // namespace

Status ValidateEvalConfig(const EvalConfig& c) {
  if (c.tasks.empty()) return Status::Error("--tasks: no task given; known: " + EvalTaskNames());
  for (const std::string& t : c.tasks) {
    if (FindEvalTask(t) == nullptr) {
      return Status::Error("--tasks: unknown task '" + t + "'; known: " + EvalTaskNames());
    }
  }
  if (c.methods.empty()) return Status::Error("--methods: no method given");
  for (const std::string& m : c.methods) {
    bool known = false;
    for (const MethodInfo& info : KvMethods()) known = known || m == info.name;
    if (!known) {
      return Status::Error("--methods: unknown method '" + m + "'; known: " + KvMethodNames());
    }
  }
  if (c.budgets.empty()) return Status::Error("--budgets: no budget given");
  for (double b : c.budgets) {
    if (!(b > 0.0 && b <= 1.0)) {
      return Status::Error("--budgets: " + Num(b) + " is not a KV ratio in (0, 1]");
    }
  }
  if (c.lengths.empty()) return Status::Error("--lengths: no length given");
  for (int64_t l : c.lengths) {
    if (l < 128) return Status::Error("--lengths: " + std::to_string(l) + " is below 128 tokens");
  }
  if (c.modes.empty()) return Status::Error("--mode: give agnostic, aware or both");
  for (const std::string& m : c.modes) {
    if (m != "agnostic" && m != "aware") {
      return Status::Error("--mode: '" + m + "' is neither agnostic nor aware");
    }
  }
  for (double d : c.depths) {
    if (!(d >= 0.0 && d <= 1.0)) {
      return Status::Error("--depths: " + Num(100 * d) + "% is outside 0..100");
    }
  }
  bool needle = false;
  for (const std::string& t : c.tasks) needle = needle || t == "needle";
  if (needle && c.depths.empty()) return Status::Error("--depths: the needle task needs depths");
  if (c.samples < 1) return Status::Error("--samples must be >= 1");
  if (c.out_dir.empty()) return Status::Error("--out: no output folder given");
  return Status::Ok();
}

std::vector<MethodRun> PlanMethodRuns(const EvalConfig& c) {
  std::vector<MethodRun> runs;
  for (const std::string& m : c.methods) {
    if (IsFull(m)) {
      runs.push_back({m, 1.0});
      continue;
    }
    for (double b : c.budgets) runs.push_back({m, b});
  }
  return runs;
}

std::string AnswerKey(const EvalConfig& c, const std::string& task, int64_t length,
                      int64_t index, double depth, const std::string& mode,
                      const MethodRun& run) {
  const MethodOptions& o = c.method_options;
  const TaskInfo* info = FindEvalTask(task);
  const std::string haystack = info != nullptr && info->prose_haystack ? c.haystack : "-";
  return fmt::format("v1|{}|{}|{}|{}|{}|{}|{}|{}|seed={}|hay={}|w={}|pool={}:{}|sr={}|"
                     "pivot={}|lambda={}|pq={}|nl={}|max={}",
                     c.model_name, task, length, index, depth < 0 ? "-" : Num(depth), mode,
                     run.method, Num(run.budget), c.seed, haystack, o.window, PoolName(o.pool),
                     o.pool_kernel, Num(o.struct_rate), o.pivot, Num(o.lambda), o.probe_queries,
                     c.stop_at_newline ? 1 : 0, c.max_new_tokens);
}

Status RunEval(const Model& model, const EvalConfig& c) {
  SKV_RETURN_IF_ERROR(ValidateEvalConfig(c));
  bool need_prose = false;
  for (const std::string& t : c.tasks) need_prose = need_prose || FindEvalTask(t)->prose_haystack;
  Haystack prose;
  if (need_prose) {
    SKV_ASSIGN_OR_RETURN(prose, LoadHaystack(c.haystack_dir, c.haystack));
  }
  SKV_ASSIGN_OR_RETURN(std::vector<std::string> words, LoadWords(c.haystack_dir));
  TaskSources sources{need_prose ? &prose : nullptr, &words};
  EvalBackend backend;
  backend.count = ModelTokenCounter(model);
  backend.chat = model.file().Find("tokenizer.chat_template") != nullptr;
  backend.tokenize = [&model](const EvalSample& sample)
      -> StatusOr<std::pair<std::vector<int32_t>, std::vector<int32_t>>> {
    SKV_ASSIGN_OR_RETURN(PromptParts parts, SplitEvalPrompt(model, sample));
    const Tokenizer& tok = model.tokenizer();
    return std::make_pair(tok.Encode(parts.span, true, parts.chat),
                          tok.Encode(parts.rest, false, parts.chat));
  };
  // Methods that neither propagate nor filter share one uncompressed prefill
  // per prompt and score source: each method x budget compresses a copy
  // (identical to its own prefill; tests/compression_contract_test.cc).
  // Answers for one prompt come one after another, so only its prefills are
  // kept.
  struct SharedPrefills {
    std::vector<int32_t> tokens;  // the prompt they belong to
    int64_t n_ctx = 0;
    std::map<std::tuple<int, int64_t, int64_t>, PrefilledPrompt> by_source;
  };
  auto shared = std::make_shared<SharedPrefills>();
  backend.answer = [&model, &c, shared](const std::vector<int32_t>& compressed,
                                        const std::vector<int32_t>& after, const MethodRun& r,
                                        int64_t max_new,
                                        bool stop_at_newline) -> StatusOr<AnswerResult> {
    MethodOptions mo = c.method_options;
    mo.budget.ratio = r.budget;
    mo.budget.tokens = 0;
    SKV_ASSIGN_OR_RETURN(std::unique_ptr<KvMethod> method, CreateKvMethod(r.method, mo));
    const int64_t extra = static_cast<int64_t>(after.size()) + max_new;
    SessionOptions so;
    so.n_ctx = static_cast<int64_t>(compressed.size()) + extra;
    SKV_ASSIGN_OR_RETURN(Session session, Session::Create(model, so));
    CompressionReport report;
    if (CanSharePrefill(*method, model.config())) {
      if (shared->tokens != compressed || shared->n_ctx != so.n_ctx) {
        shared->tokens = compressed;
        shared->n_ctx = so.n_ctx;
        shared->by_source.clear();
      }
      const auto key = std::make_tuple(static_cast<int>(method->scores_needed()),
                                       mo.window, mo.probe_queries);
      auto it = shared->by_source.find(key);
      if (it == shared->by_source.end()) {
        SKV_ASSIGN_OR_RETURN(Session empty, Session::Create(model, so));
        SKV_ASSIGN_OR_RETURN(PrefilledPrompt p,
                             PrefillForSelection(std::move(empty), compressed,
                                                 method->scores_needed(), mo));
        it = shared->by_source.emplace(key, std::move(p)).first;
      }
      SKV_ASSIGN_OR_RETURN(report, CompressPrefilled(it->second, *method, extra, &session));
    } else {
      SKV_ASSIGN_OR_RETURN(report, PrefillAndCompress(session, compressed, *method, extra));
    }
    SKV_ASSIGN_OR_RETURN(Answer answer,
                         GenerateAnswer(session, after, max_new, stop_at_newline));
    AnswerResult a;
    a.text = answer.text;
    a.generated_tokens = answer.tokens;
    a.max_new_tokens = max_new;
    a.stopped_at_eog = answer.eog;
    a.answer_seconds = answer.seconds;
    a.prefill_seconds = report.seconds;
    a.compression_ratio = report.compression_ratio();
    int64_t kept = 0;
    for (int64_t k : report.kept_per_layer) kept += k;
    a.kept_entries_mean = report.kept_per_layer.empty()
                              ? 0.0
                              : static_cast<double>(kept) / report.kept_per_layer.size();
    a.kv_bytes_kept = report.kv_bytes_kept;
    a.kv_bytes_full = report.kv_bytes_full;
    return a;
  };
  return RunEvalWith(c, sources, need_prose ? prose.source : std::string(), backend);
}

Status RunEvalWith(const EvalConfig& c, const TaskSources& sources,
                   const std::string& prose_source, const EvalBackend& backend) {
  SKV_RETURN_IF_ERROR(ValidateEvalConfig(c));
  SKV_ASSIGN_OR_RETURN(ResultStore store, ResultStore::Open(c.out_dir + "/results.jsonl"));
  if (store.ignored_lines() > 0) {
    fmt::print(stderr, "eval: {}: ignored {} incomplete line(s); their samples are redone\n",
               store.path(), store.ignored_lines());
  }
  const std::vector<Unit> units = PlanUnits(c);
  const std::vector<MethodRun> runs = PlanMethodRuns(c);
  int64_t total = 0, done = 0;
  for (const Unit& u : units) {
    for (const std::string& mode : c.modes) {
      for (const MethodRun& r : runs) {
        ++total;
        done += store.Done(AnswerKey(c, u.task, u.length, u.index, u.depth, mode, r)) ? 1 : 0;
      }
    }
  }
  fmt::print(stderr, "eval: {} answers planned, {} already in {}; haystack {}\n", total, done,
             store.path(), prose_source.empty() ? std::string("(none needed)") : prose_source);
  ProgressBar progress(total, done);
  for (const Unit& u : units) {
    bool pending = false;
    for (const std::string& mode : c.modes) {
      for (const MethodRun& r : runs) {
        pending = pending || !store.Done(AnswerKey(c, u.task, u.length, u.index, u.depth, mode, r));
      }
    }
    if (!pending) continue;
    SKV_ASSIGN_OR_RETURN(EvalSample sample, MakeSample(u.task, u.length, c.seed, u.index,
                                                       sources, backend.count, u.depth));
    SKV_ASSIGN_OR_RETURN(auto ids, backend.tokenize(sample));
    const std::vector<int32_t>& span = ids.first;
    const std::vector<int32_t>& rest = ids.second;
    const std::string haystack_source =
        sources.prose != nullptr && sample.haystack == sources.prose->name ? prose_source
                                                                           : sample.haystack;
    for (const std::string& mode : c.modes) {
      std::vector<int32_t> compressed = span, after = rest;
      if (mode == "aware") {
        // The question is inside the compressed span; only the last prompt
        // token is evaluated afterwards (it produces the first answer logits).
        compressed.insert(compressed.end(), rest.begin(), rest.end());
        after.assign(1, compressed.back());
        compressed.pop_back();
      }
      for (const MethodRun& r : runs) {
        const std::string key = AnswerKey(c, u.task, u.length, u.index, u.depth, mode, r);
        if (store.Done(key)) continue;
        const int64_t max_new = c.max_new_tokens > 0
                                    ? std::min(c.max_new_tokens, sample.max_new_tokens)
                                    : sample.max_new_tokens;
        SKV_ASSIGN_OR_RETURN(AnswerResult a,
                             backend.answer(compressed, after, r, max_new,
                                            c.stop_at_newline && !backend.chat));
        const double score = ScoreSample(sample.match, a.text, sample.references);
        nlohmann::json row = {
            {"key", key},
            {"kind", "task"},
            {"model", c.model_name},
            {"task", u.task},
            {"length", u.length},
            {"index", u.index},
            {"depth", u.depth},
            {"mode", mode},
            {"method", r.method},
            {"budget", r.budget},
            {"seed", c.seed},
            {"sample_seed", sample.seed},
            {"haystack", sample.haystack},
            {"haystack_source", haystack_source},
            {"prompt_tokens", static_cast<int64_t>(span.size() + rest.size())},
            {"span_tokens", static_cast<int64_t>(compressed.size())},
            {"metric", MatchKindName(sample.match)},
            {"score", score},
            {"prediction", a.text},
            {"references", sample.references},
            {"generated_tokens", a.generated_tokens},
            {"max_new_tokens", a.max_new_tokens},
            {"stopped_at_eog", a.stopped_at_eog},
            {"compression_ratio", a.compression_ratio},
            {"kept_entries_mean", a.kept_entries_mean},
            {"kv_bytes_kept", a.kv_bytes_kept},
            {"kv_bytes_full", a.kv_bytes_full},
            {"prefill_s", a.prefill_seconds},
            {"answer_s", a.answer_seconds},
        };
        SKV_RETURN_IF_ERROR(store.Append(row));
        progress.Advance(fmt::format("L={} {}#{} {} {}@{} score={:.2f}", u.length, u.task,
                                     u.index, mode, r.method, Num(r.budget), score));
      }
    }
  }
  progress.Finish();
  SKV_RETURN_IF_ERROR(
      WriteFileAtomically(c.out_dir + "/summary.csv", SummarizeResults(store.rows())));
  fmt::print(stderr, "eval: wrote {} and {}/summary.csv\n", store.path(), c.out_dir);
  return Status::Ok();
}

std::string SummarizeResults(const std::vector<nlohmann::json>& rows) {
  // (length, task, mode, method, budget) -> scores; model and haystack are
  // part of the key so that mixed files do not blend.
  using Key = std::tuple<std::string, std::string, int64_t, std::string, std::string,
                         std::string, double>;
  std::map<Key, std::vector<double>> groups;
  for (const nlohmann::json& r : rows) {
    if (r.value("kind", "") != "task") continue;
    const std::string task = r.value("task", "");
    const std::string hay = r.value("haystack", "");
    groups[{r.value("model", ""), task == "needle" ? hay : std::string("mixed"),
            r.value("length", int64_t{0}), task, r.value("mode", ""), r.value("method", ""),
            r.value("budget", 1.0)}]
        .push_back(r.value("score", 0.0));
  }
  std::string csv = "model,haystack,length,task,mode,method,budget,n,score,se\n";
  // (model, length, mode, method, budget) -> per-task (mean, se^2, n)
  using AllKey = std::tuple<std::string, int64_t, std::string, std::string, double>;
  std::map<AllKey, std::vector<std::tuple<double, double, int64_t>>> all;
  for (const auto& [k, v] : groups) {
    const auto& [model, hay, length, task, mode, method, budget] = k;
    double sum = 0, sum2 = 0;
    for (double s : v) {
      sum += s;
      sum2 += s * s;
    }
    const double n = static_cast<double>(v.size());
    const double mean = sum / n;
    const double var = n > 1 ? std::max(0.0, (sum2 - n * mean * mean) / (n - 1)) : 0.0;
    const double se = std::sqrt(var / n);
    csv += fmt::format("{},{},{},{},{},{},{},{},{:.2f},{:.2f}\n", model, hay, length, task, mode,
                       method, Num(budget), v.size(), 100 * mean, 100 * se);
    if (task != "needle") {
      all[{model, length, mode, method, budget}].emplace_back(mean, se * se,
                                                              static_cast<int64_t>(v.size()));
    }
  }
  for (const auto& [k, tasks] : all) {
    const auto& [model, length, mode, method, budget] = k;
    double mean = 0, var = 0;
    int64_t n = 0;
    for (const auto& [m, v, cnt] : tasks) {
      mean += m;
      var += v;
      n += cnt;
    }
    const double t = static_cast<double>(tasks.size());
    csv += fmt::format("{},mixed,{},ALL,{},{},{},{},{:.2f},{:.2f}\n", model, length, mode, method,
                       Num(budget), n, 100 * mean / t, 100 * std::sqrt(var) / t);
  }
  return csv;
}

}  // namespace skv
