// `structkv run`: the main job. Answers a question about a (long) document.
// The document is prefilled and its KV cache compressed by --kv METHOD
// without seeing the question (query-agnostic: one compressed document can
// serve many questions); the question and the answer then continue at
// position N. Instruct models get their chat template; base models without
// one get a plain "Question: ... Answer:" completion. Prints the answer, then
// time, memory, KV size and the measured compression.
#include <fmt/core.h>

#include <memory>

#include "compress/method.h"
#include "runtime/compress_prefill.h"
#include "runtime/generate.h"
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
  int64_t pivot = -1;
  double lambda = 0.9;
  int64_t n_predict = 128;
};

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
  o.pivot = f.pivot;
  o.lambda = f.lambda;
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

Status RunRun(const RunFlags& f) {
  SKV_ASSIGN_OR_RETURN(MethodOptions options, ParseMethodOptions(f));
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<KvMethod> method,
                       CreateKvMethod(f.kv_method, options));
  SKV_ASSIGN_OR_RETURN(RuntimeContext ctx,
                       RuntimeContext::Create(f.runtime.options,
                                              NumaTopology::Detect()));
  SKV_ASSIGN_OR_RETURN(std::string doc, ReadTextFile(f.doc_path));
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                       LoadModelVerbose(f.model.path));
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
  SKV_ASSIGN_OR_RETURN(Session session, Session::Create(*model, so));
  SKV_ASSIGN_OR_RETURN(Sampler sampler, Sampler::Create(f.sampler.options));
  fmt::print(stderr, "{}; document {} ({} bytes), prompt {} tokens\n",
             ctx.Describe(), f.doc_path, doc.size(), n_prompt);
  SKV_ASSIGN_OR_RETURN(
      CompressionReport report,
      PrefillAndCompress(session, compressed, *method,
                         static_cast<int64_t>(rest.size()) + f.n_predict));
  fmt::print("Q: {}\nA:", f.question);
  std::string answer;
  SKV_ASSIGN_OR_RETURN(
      GenerationStats stats,
      ContinueGeneration(session, sampler, rest, f.n_predict, [&](int32_t id) {
        const std::string piece = tok.TokenToPiece(id, false);
        // A completion-style answer ends with its line.
        if (!chat && piece.find('\n') != std::string::npos &&
            answer.find_first_not_of(" \n") != std::string::npos) {
          return false;
        }
        answer += piece;
        fmt::print("{}", piece);
        std::fflush(stdout);
        return true;
      }));
  fmt::print("\n\n");
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
  cmd->add_option("-f,--file", flags->doc_path, "document")->required();
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
                  "fastkv/structkv: prune after this layer (-1: 15/32 of the depth)")
      ->capture_default_str();
  cmd->add_option("--lambda", flags->lambda, "structkv: centrality decay")
      ->capture_default_str();
  cmd->add_flag("--query-aware", flags->query_aware,
                "compress with the question inside the span (default: without)");
  cmd->callback([flags] {
    const Status s = RunRun(*flags);
    if (!s.ok()) throw CLI::RuntimeError(ReportError(s));
  });
}

}  // namespace skv::tools
