// `structkv run`: the main job. Answers a question about a (long) document.
// The document is prefilled and its KV cache compressed by --kv METHOD
// without seeing the question (query-agnostic: one compressed document can
// serve many questions); the question and the answer then continue at
// position N. Instruct models get their chat template; base models without
// one get a plain "Question: ... Answer:" completion. Prints the answer, then
// time, memory, KV size and the measured compression.
#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "compress/method.h"
#include "runtime/compress_prefill.h"
#include "runtime/generate.h"
#include "runtime/pivot_cache.h"
#include "runtime/session_state.h"
#include "tools/common.h"

namespace skv::tools {
namespace {

struct RunFlags {
  ModelFlags model;
  RuntimeFlags runtime;
  SessionFlags session;
  SamplerFlags sampler;
  std::string doc_path;
  std::string question;
  std::string kv_method = "full";
  double kv_budget = 0.1;
  int64_t window = 8;
  std::string pool = "max:7";
  bool query_aware = false;
  double struct_rate = 0.2;
  std::string pivot = "default";
  std::string pivot_cache;
  double lambda = 0.9;
  int64_t probe_queries = 64;
  bool verbose = false;
  bool compare_full = false;
  bool ignore_eos = false;
  int64_t n_predict = 128;
  std::string save_state;  // write the compressed document's state here
  std::string load_state;  // answer from this state instead of -f
};

// --pivot: "default", "auto", "calibrated" (resolved later) or a layer.
StatusOr<int64_t> ParsePivot(const std::string& v) {
  if (v == "default") return kPivotDefault;
  if (v == "auto" || v == "calibrated") return kPivotAuto;
  try {
    size_t used = 0;
    const long long layer = std::stoll(v, &used);
    if (used == v.size() && layer >= 0) return static_cast<int64_t>(layer);
  } catch (...) {
  }
  return Status::Error("--pivot must be auto, calibrated, default or a layer index >= 0, got '" +
                       v + "'");
}

StatusOr<MethodOptions> ParseMethodOptions(const RunFlags& f) {
  MethodOptions o;
  if (!(f.kv_budget > 0)) {
    return Status::Error("--kv-budget must be a ratio in (0, 1] or a token count > 1");
  }
  if (f.kv_budget <= 1.0) {
    o.budget.ratio = f.kv_budget;
  } else {
    o.budget.tokens = static_cast<int64_t>(f.kv_budget);
  }
  o.window = f.window;
  o.struct_rate = f.struct_rate;
  SKV_ASSIGN_OR_RETURN(o.pivot, ParsePivot(f.pivot));
  o.lambda = f.lambda;
  o.probe_queries = f.probe_queries;
  o.pivot_metrics = f.verbose;
  o.seed = f.sampler.options.seed;
  const size_t colon = f.pool.find(':');
  const std::string kind = f.pool.substr(0, colon);
  if (kind == "none") {
    o.pool = PoolKind::kNone;
    o.pool_kernel = 1;
    return o;
  }
  if ((kind != "max" && kind != "avg") || colon == std::string::npos) {
    return Status::Error("--pool must be max:K, avg:K or none, got '" + f.pool + "'");
  }
  o.pool = kind == "max" ? PoolKind::kMax : PoolKind::kAvg;
  try {
    o.pool_kernel = std::stoll(f.pool.substr(colon + 1));
  } catch (...) {
    return Status::Error("--pool kernel in '" + f.pool + "' is not a number");
  }
  return o;
}

// The prompt split at the end of the document: [template prefix + document]
// and [question + template suffix].
struct SplitPrompt {
  std::string document_part;
  std::string question_part;
};

StatusOr<SplitPrompt> BuildPrompt(const Model& model, const std::string& doc,
                                  const std::string& question) {
  if (model.file().Find("tokenizer.chat_template") == nullptr) {
    return SplitPrompt{doc, "\n\nQuestion: " + question + "\nAnswer:"};
  }
  // Render with a marker where the question goes, then cut there.
  const std::string marker = "\x01QUESTION\x01";
  SKV_ASSIGN_OR_RETURN(std::string full, ApplyChat(model, doc + "\n\n" + marker));
  const size_t at = full.find(marker);
  if (at == std::string::npos) return Status::Error("chat template lost the question");
  return SplitPrompt{full.substr(0, at), question + full.substr(at + marker.size())};
}

// Prints `label`, then generates the answer to `question` (its tokens, the
// prompt's rest) from `session` and streams it to stdout. A completion-style
// answer (a base model without a chat template) ends with its line, unless
// --ignore-eos asks for exactly -n tokens.
StatusOr<GenerationStats> StreamAnswer(Session& session, Sampler& sampler,
                                       const std::vector<int32_t>& question, const RunFlags& f,
                                       const Tokenizer& tok, bool chat, const char* label) {
  fmt::print("{}", label);
  std::string answer;
  auto print_piece = [&](int32_t id) {
    const std::string piece = tok.TokenToPiece(id, false);
    if (!chat && !f.ignore_eos && piece.find('\n') != std::string::npos &&
        answer.find_first_not_of(" \n") != std::string::npos) {
      return false;
    }
    answer += piece;
    fmt::print("{}", piece);
    std::fflush(stdout);
    return true;
  };
  auto stats = ContinueGeneration(session, sampler, question, f.n_predict, print_piece,
                                  /*stop_at_eog=*/!f.ignore_eos);
  fmt::print("\n\n");
  return stats;
}

// --load-state: the document was prefilled and compressed by an earlier
// `run --save-state`; only the question and the answer are computed.
Status AnswerFromState(const RunFlags& f) {
  if (!f.doc_path.empty() || f.query_aware || f.compare_full || !f.save_state.empty()) {
    return Status::Error("--load-state answers from a saved document state: it takes no -f, "
                         "--query-aware, --compare-full or --save-state");
  }
  SKV_ASSIGN_OR_RETURN(RuntimeContext ctx, CreateRuntime(f.runtime));
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadModelVerbose(f.model.path, ctx));
  SKV_ASSIGN_OR_RETURN(SplitPrompt parts, BuildPrompt(*model, "", f.question));
  const Tokenizer& tok = model->tokenizer();
  const bool chat = model->file().Find("tokenizer.chat_template") != nullptr;
  const std::vector<int32_t> rest = tok.Encode(parts.question_part, false, chat);
  const auto t0 = std::chrono::steady_clock::now();
  SKV_ASSIGN_OR_RETURN(
      LoadedState state,
      LoadSessionState(*model, f.session.options, f.load_state,
                       static_cast<int64_t>(rest.size()) + f.n_predict));
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Session& session = state.session;
  const int64_t state_positions = session.n_past();
  fmt::print(stderr, "{}; state {} ({}, {}, {} positions), loaded in {:.3f}s\n", ctx.Describe(),
             f.load_state, HumanBytes(static_cast<double>(state.file_bytes)),
             state.info.value("method", std::string("?")), session.n_past(), load_s);
  SKV_ASSIGN_OR_RETURN(Sampler sampler, Sampler::Create(f.sampler.options));
  fmt::print("Q: {}\n", f.question);
  SKV_ASSIGN_OR_RETURN(GenerationStats stats,
                       StreamAnswer(session, sampler, rest, f, tok, chat, "A:"));
  const double kv_read = static_cast<double>(session.kv().live_bytes());
  fmt::print(
      "summary: state={} document={} kv={} budget={} positions={} question_tokens={} "
      "load={:.3f}s generated={} decode={:.2f}s ({:.2f} tok/s)\n"
      "memory: weights {} (mapped), KV cache now {} live, peak RSS {}\n"
      "decode: {} read per token (weights {} + KV {})\n",
      f.load_state, state.info.value("document", std::string("?")),
      state.info.value("method", std::string("?")), state.info.value("kv_budget", 0.0),
      state_positions, rest.size(), load_s, stats.generated_tokens, stats.decode_seconds,
      stats.generated_tokens / std::max(stats.decode_seconds, 1e-9),
      HumanBytes(static_cast<double>(model->weight_bytes())), HumanBytes(kv_read),
      HumanBytes(static_cast<double>(PeakRssBytes())),
      HumanBytes(static_cast<double>(model->weight_bytes()) + kv_read),
      HumanBytes(static_cast<double>(model->weight_bytes())), HumanBytes(kv_read));
  return Status::Ok();
}

void PrintPivotTrace(const CompressionReport& r) {
  if (r.trace.layers.empty()) return;
  fmt::print("pivot metrics (window rows; '-' = sliding-window layer, carried over):\n"
             "  layer  entropy  sparsity  variance   T_l\n");
  for (const LayerPivotMetrics& m : r.trace.layers) {
    fmt::print("  {:5d}{} {:8.4f}  {:8.4f}  {:8.3f}  {:+.3f}{}\n", m.layer,
               m.measured ? ' ' : '-', m.entropy, m.sparsity, m.variance, m.transition,
               m.layer == r.trace.pivot ? "  <- pivot" : "");
  }
}

Status RunRun(const RunFlags& f) {
  if (!f.load_state.empty()) return AnswerFromState(f);
  if (f.doc_path.empty()) {
    return Status::Error("-f/--file (the document) is required, or --load-state FILE");
  }
  if (!f.save_state.empty() && f.query_aware) {
    return Status::Error("--save-state keeps a document for later questions: with "
                         "--query-aware the saved cache would hold this question");
  }
  SKV_ASSIGN_OR_RETURN(MethodOptions options, ParseMethodOptions(f));
  const bool calibrated = f.pivot == "calibrated";
  if (calibrated && f.kv_method != "structkv") {
    return Status::Error("--pivot calibrated is StructKV's; --kv " + f.kv_method +
                         " takes a fixed layer");
  }
  // Validates the options before the model loads.
  SKV_RETURN_IF_ERROR(CreateKvMethod(f.kv_method, options).status());
  SKV_ASSIGN_OR_RETURN(RuntimeContext ctx,
                       CreateRuntime(f.runtime));
  SKV_ASSIGN_OR_RETURN(std::string doc, ReadTextFile(f.doc_path));
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                       LoadModelVerbose(f.model.path, ctx));
  const int64_t n_layers = model->config().n_layers;
  if (options.pivot >= n_layers - 1) {
    return Status::Error(fmt::format("--pivot {}: the model has {} layers, so the last "
                                     "layer to prune after is {}",
                                     options.pivot, n_layers, n_layers - 2));
  }
  SKV_ASSIGN_OR_RETURN(SplitPrompt parts, BuildPrompt(*model, doc, f.question));
  const Tokenizer& tok = model->tokenizer();
  const bool chat = model->file().Find("tokenizer.chat_template") != nullptr;
  std::vector<int32_t> compressed = tok.Encode(parts.document_part, true, chat);
  std::vector<int32_t> rest = tok.Encode(parts.question_part, false, chat);
  if (f.query_aware) {
    // The question is inside the compressed span; only the last prompt token
    // is evaluated afterwards (it produces the first answer logits).
    compressed.insert(compressed.end(), rest.begin(), rest.end());
    rest.assign(1, compressed.back());
    compressed.pop_back();
  }
  const int64_t n_prompt = static_cast<int64_t>(compressed.size() + rest.size());
  SessionOptions so = f.session.options;
  if (so.n_ctx <= 0) so.n_ctx = n_prompt + f.n_predict;
  if (n_prompt > model->config().n_ctx_train) {
    fmt::print(stderr,
               "warning: the prompt ({} tokens) is longer than the model's "
               "training context ({})\n",
               n_prompt, model->config().n_ctx_train);
  }
  // --pivot calibrated: the bucket's median once it has enough prompts;
  // before that, online detection whose pivot is recorded.
  std::optional<PivotCache> pivot_cache;
  const std::string cache_path =
      f.pivot_cache.empty() ? DefaultPivotCachePath() : f.pivot_cache;
  const std::string model_key = PivotModelKey(*model);
  if (calibrated) {
    SKV_ASSIGN_OR_RETURN(pivot_cache, PivotCache::Load(cache_path));
    if (const auto p = pivot_cache->Pivot(model_key, n_prompt)) {
      options.pivot = *p;
      fmt::print(stderr, "pivot: calibrated layer {} ({} bucket {}, cache {})\n", *p,
                 model_key, PivotLengthBucket(n_prompt), cache_path);
    } else {
      fmt::print(stderr, "pivot: calibrating ({} of {} prompts seen for bucket {}); "
                 "online detection this time\n",
                 pivot_cache->Observed(model_key, n_prompt), kCalibrationPrompts,
                 PivotLengthBucket(n_prompt));
    }
  }
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<KvMethod> method,
                       CreateKvMethod(f.kv_method, options));
  SKV_ASSIGN_OR_RETURN(Session session, Session::Create(*model, so));
  SKV_ASSIGN_OR_RETURN(Sampler sampler, Sampler::Create(f.sampler.options));
  fmt::print(stderr, "{}; document {} ({} bytes), prompt {} tokens\n",
             ctx.Describe(), f.doc_path, doc.size(), n_prompt);
  if (f.compare_full) {
    // Warm-up, untimed: page in the mapped weights, so that neither of the
    // two timed prefills pays for the first touch.
    SKV_ASSIGN_OR_RETURN(Session warm, Session::Create(*model, so));
    SKV_RETURN_IF_ERROR(warm.Evaluate(
        std::span(compressed).first(std::min<size_t>(compressed.size(), 32)), false, nullptr));
  }
  SKV_ASSIGN_OR_RETURN(
      CompressionReport report,
      PrefillAndCompress(session, compressed, *method,
                         static_cast<int64_t>(rest.size()) + f.n_predict));
  if (calibrated && options.pivot == kPivotAuto && report.trace.pivot >= 0) {
    SKV_RETURN_IF_ERROR(pivot_cache->Record(model_key, n_prompt, report.trace.pivot));
  }
  if (!f.save_state.empty()) {
    // Before the question: the state is the document alone, for any question.
    nlohmann::json info;
    info["method"] = method->name();
    info["kv_budget"] = f.kv_budget;
    info["struct_rate"] = f.struct_rate;
    info["document"] = f.doc_path;
    info["document_bytes"] = doc.size();
    info["prompt_tokens"] = report.prompt_tokens;
    info["kv_bytes_kept"] = report.kv_bytes_kept;
    info["kv_bytes_full"] = report.kv_bytes_full;
    info["pivot"] = report.trace.pivot;
    const auto t0 = std::chrono::steady_clock::now();
    SKV_RETURN_IF_ERROR(SaveSessionState(session, f.save_state, info));
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(f.save_state, ec);
    fmt::print(stderr, "state: saved {} ({}) in {:.3f}s; answer more questions with "
               "--load-state {}\n", f.save_state, HumanBytes(static_cast<double>(bytes)),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
               f.save_state);
  }
  double full_prefill_s = 0;
  std::optional<Session> full;
  if (f.compare_full) {
    // The same span prefilled uncompressed in a second session, for the time
    // ratio (the FLOPs ratio needs no second run); it decodes the same way
    // after the compressed answer, so decode speed and bytes per token at
    // this depth are compared side by side too.
    SessionOptions full_options = so;
    full_options.trim_sliding_window = true;  // what an uncompressed run keeps
    SKV_ASSIGN_OR_RETURN(full, Session::Create(*model, full_options));
    const auto t0 = std::chrono::steady_clock::now();
    SKV_RETURN_IF_ERROR(full->Evaluate(compressed, false, nullptr));
    full_prefill_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  fmt::print("Q: {}\n", f.question);
  SKV_ASSIGN_OR_RETURN(GenerationStats stats,
                       StreamAnswer(session, sampler, rest, f, tok, chat, "A:"));
  GenerationStats full_stats;
  if (full) {
    SKV_ASSIGN_OR_RETURN(Sampler full_sampler, Sampler::Create(f.sampler.options));
    SKV_ASSIGN_OR_RETURN(full_stats, StreamAnswer(*full, full_sampler, rest, f, tok, chat,
                                                  "A (full KV):"));
  }
  if (f.verbose) PrintPivotTrace(report);
  int64_t kmin = report.kept_per_layer[0], kmax = kmin;
  int64_t computed = 0, first_pruned = -1;
  for (size_t l = 0; l < report.computed_per_layer.size(); ++l) {
    computed += report.computed_per_layer[l];
    if (first_pruned < 0 && report.computed_per_layer[l] < report.prompt_tokens) {
      first_pruned = static_cast<int64_t>(l);
    }
  }
  for (int64_t k : report.kept_per_layer) {
    kmin = std::min(kmin, k);
    kmax = std::max(kmax, k);
  }
  const double prefill_s = report.seconds + stats.prefill_seconds;
  fmt::print(
      "summary: kv={} budget={} {} prompt_tokens={} compressed_span={} "
      "prefill={:.2f}s ({:.1f} tok/s) generated={} decode={:.2f}s ({:.2f} tok/s)\n"
      "kv: entries kept per layer {}..{} of {}; KV bytes {} kept / {} full "
      "(measured compression ratio {:.3f})\n"
      "prefill: layers computed on {:.1f}% of the token-layers{}\n"
      "memory: weights {} (mapped), KV cache now {} live / {} reserved, peak RSS {}\n",
      method->name(), f.kv_budget, f.query_aware ? "query-aware" : "query-agnostic",
      n_prompt, report.prompt_tokens, prefill_s, n_prompt / std::max(prefill_s, 1e-9),
      stats.generated_tokens, stats.decode_seconds,
      stats.generated_tokens / std::max(stats.decode_seconds, 1e-9), kmin, kmax,
      report.prompt_tokens, HumanBytes(static_cast<double>(report.kv_bytes_kept)),
      HumanBytes(static_cast<double>(report.kv_bytes_full)), report.compression_ratio(),
      100.0 * computed / std::max<double>(1.0, report.prompt_tokens * report.computed_per_layer.size()),
      first_pruned < 0 ? std::string()
                       : fmt::format(" (skeleton of {} tokens from layer {} on)",
                                     report.computed_per_layer[first_pruned], first_pruned),
      HumanBytes(static_cast<double>(model->weight_bytes())),
      HumanBytes(static_cast<double>(session.kv().live_bytes())),
      HumanBytes(static_cast<double>(session.kv().reserved_bytes())),
      HumanBytes(static_cast<double>(PeakRssBytes())));
  const std::string pivot =
      report.trace.pivot >= 0
          ? fmt::format("pivot layer {} of {} ({}), skeleton {} tokens", report.trace.pivot,
                        n_layers, report.trace.pivot_rule, report.trace.skeleton)
      : report.filter_layer >= 0
          ? fmt::format("filter layer {} of {}, kept tokens re-prefilled at positions 0..{}",
                        report.filter_layer, n_layers, report.computed_per_layer[0] - 1)
          : std::string("no pivot (full-depth prefill)");
  fmt::print("work: prefill {:.3g} GFLOP against {:.3g} full ({:.1f}%; linear {:.1f}%, "
             "attention {:.1f}%); {}\n",
             report.flops.total() / 1e9, report.flops_full.total() / 1e9,
             100.0 * report.flops.total() / report.flops_full.total(),
             100.0 * report.flops.linear / report.flops_full.linear,
             100.0 * report.flops.attention / std::max(report.flops_full.attention, 1.0),
             pivot);
  // Decode streams every weight once per token plus the whole live cache.
  const double kv_read = static_cast<double>(session.kv().live_bytes());
  fmt::print("decode: {} read per token (weights {} + KV {})\n",
             HumanBytes(static_cast<double>(model->weight_bytes()) + kv_read),
             HumanBytes(static_cast<double>(model->weight_bytes())), HumanBytes(kv_read));
  if (full) {
    const double full_kv_read = static_cast<double>(full->kv().live_bytes());
    fmt::print("decode, full KV: {} read per token (weights {} + KV {}), {} tokens in "
               "{:.2f}s ({:.2f} tok/s) against {:.2f} tok/s compressed\n",
               HumanBytes(static_cast<double>(model->weight_bytes()) + full_kv_read),
               HumanBytes(static_cast<double>(model->weight_bytes())), HumanBytes(full_kv_read),
               full_stats.generated_tokens, full_stats.decode_seconds,
               full_stats.generated_tokens / std::max(full_stats.decode_seconds, 1e-9),
               stats.generated_tokens / std::max(stats.decode_seconds, 1e-9));
    fmt::print("time: compressed prefill {:.2f}s (selection {:.3f}s, scoring hooks {:.3f}s) "
               "against {:.2f}s uncompressed: {:.2f}x\n",
               report.seconds, report.select_seconds, report.scoring_seconds, full_prefill_s,
               full_prefill_s / std::max(report.seconds, 1e-9));
  }
  return Status::Ok();
}

}  // namespace

void RegisterRun(CLI::App& app) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand(
      "run", "answer a question about a long document, with KV compression");
  flags->model.Register(*cmd);
  flags->runtime.Register(*cmd);
  flags->session.Register(*cmd, 0);
  flags->sampler.options.temperature = 0.f;  // answers are greedy by default
  flags->sampler.Register(*cmd);
  cmd->add_option("-f,--file", flags->doc_path, "document (or --load-state)");
  cmd->add_option("-p,--prompt", flags->question, "question")->required();
  cmd->add_option("-n,--n-predict", flags->n_predict, "max answer tokens")
      ->capture_default_str();
  cmd->add_option("--kv", flags->kv_method, "KV method: " + KvMethodNames())
      ->capture_default_str();
  cmd->add_option("--kv-budget", flags->kv_budget,
                  "entries kept: a ratio in (0, 1] or a token count")
      ->capture_default_str();
  cmd->add_option("--window", flags->window, "observation window (always kept)")
      ->capture_default_str();
  cmd->add_option("--pool", flags->pool, "score pooling: max:K, avg:K or none")
      ->capture_default_str();
  cmd->add_option("--struct-rate", flags->struct_rate,
                  "fastkv/structkv: fraction of the prompt kept past the pivot")
      ->capture_default_str();
  cmd->add_option("--pivot", flags->pivot,
                  "structkv: auto (online detection; its default), calibrated (median "
                  "of the first prompts per model and length, cached) or a layer; "
                  "fastkv: a layer (default 15/32 of the depth); gemfilter: its filter "
                  "layer (default 13/32)")
      ->capture_default_str();
  cmd->add_option("--pivot-cache", flags->pivot_cache,
                  "--pivot calibrated's cache file (default: " + DefaultPivotCachePath() + ")");
  cmd->add_option("--lambda", flags->lambda, "structkv: centrality decay")
      ->capture_default_str();
  cmd->add_option("--probe-queries", flags->probe_queries,
                  "kvcompose: last queries that score the entries (0: all)")
      ->capture_default_str();
  cmd->add_flag("-v,--verbose", flags->verbose,
                "print every layer's pivot metrics, T_l and the chosen pivot");
  cmd->add_flag("--ignore-eos", flags->ignore_eos,
                "generate exactly -n tokens (benchmarks): no stop at EOS or end of line");
  cmd->add_flag("--compare-full", flags->compare_full,
                "also time an uncompressed prefill of the same span");
  cmd->add_option("--save-state", flags->save_state,
                  "after compressing the document, save its state to this file "
                  "(query-agnostic only) for later --load-state runs");
  cmd->add_option("--load-state", flags->load_state,
                  "answer from a state saved by --save-state (same model file): no "
                  "document prefill");
  cmd->add_flag("--query-aware", flags->query_aware,
                "compress with the question inside the span (default: without)");
  cmd->callback([flags] {
    const Status s = RunRun(*flags);
    if (!s.ok()) throw CLI::RuntimeError(ReportError(s));
  });
}

}  // namespace skv::tools
