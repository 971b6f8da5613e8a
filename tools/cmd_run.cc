// `structkv run`: the main job. Answers a question about a (long) document:
// the document and the question go through the model's chat template (or a
// plain "Question: ... Answer:" completion for base models without one), the
// answer is printed, then a summary of time, memory and KV size.
#include <fmt/core.h>

#include <memory>

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
  int64_t n_predict = 128;
};

Status RunRun(const RunFlags& f) {
  if (f.kv_method != "full") {
    return Status::Error("--kv '" + f.kv_method +
                         "' is not available yet; supported: full");
  }
  SKV_ASSIGN_OR_RETURN(RuntimeContext ctx,
                       RuntimeContext::Create(f.runtime.options,
                                              NumaTopology::Detect()));
  SKV_ASSIGN_OR_RETURN(std::string doc, ReadTextFile(f.doc_path));
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                       LoadModelVerbose(f.model.path));
  // Instruct models carry a chat template; without one (a base model) a
  // plain question/answer completion works better than a chat format.
  std::string prompt_text;
  const bool chat = model->file().Find("tokenizer.chat_template") != nullptr;
  if (chat) {
    SKV_ASSIGN_OR_RETURN(prompt_text,
                         ApplyChat(*model, doc + "\n\n" + f.question));
  } else {
    prompt_text = doc + "\n\nQuestion: " + f.question + "\nAnswer:";
  }
  const Tokenizer& tok = model->tokenizer();
  const std::vector<int32_t> prompt = tok.Encode(prompt_text, true, true);
  SessionOptions so = f.session.options;
  if (so.n_ctx <= 0) so.n_ctx = static_cast<int64_t>(prompt.size()) + f.n_predict;
  if (static_cast<int64_t>(prompt.size()) > model->config().n_ctx_train) {
    fmt::print(stderr,
               "warning: the prompt ({} tokens) is longer than the model's "
               "training context ({})\n",
               prompt.size(), model->config().n_ctx_train);
  }
  SKV_ASSIGN_OR_RETURN(Session session, Session::Create(*model, so));
  SKV_ASSIGN_OR_RETURN(Sampler sampler, Sampler::Create(f.sampler.options));
  fmt::print(stderr, "{}; document {} ({} bytes), prompt {} tokens\n",
             ctx.Describe(), f.doc_path, doc.size(), prompt.size());
  fmt::print("Q: {}\nA:", f.question);
  std::string answer;
  SKV_ASSIGN_OR_RETURN(
      GenerationStats stats,
      Generate(session, sampler, prompt, f.n_predict, [&](int32_t id) {
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
  const double kv_full = static_cast<double>(session.kv().live_bytes());
  fmt::print(
      "summary: kv={} prompt_tokens={} prefill={:.2f}s ({:.1f} tok/s) "
      "generated={} decode={:.2f}s ({:.2f} tok/s)\n"
      "memory: weights {} (mapped), KV cache {} live / {} reserved, peak RSS "
      "{}\n",
      f.kv_method, stats.prompt_tokens, stats.prefill_seconds,
      stats.prompt_tokens / std::max(stats.prefill_seconds, 1e-9),
      stats.generated_tokens, stats.decode_seconds,
      stats.generated_tokens / std::max(stats.decode_seconds, 1e-9),
      HumanBytes(static_cast<double>(model->weight_bytes())),
      HumanBytes(kv_full),
      HumanBytes(static_cast<double>(session.kv().reserved_bytes())),
      HumanBytes(static_cast<double>(PeakRssBytes())));
  return Status::Ok();
}

}  // namespace

void RegisterRun(CLI::App& app) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand(
      "run", "answer a question about a long document");
  flags->model.Register(*cmd);
  flags->runtime.Register(*cmd);
  flags->session.Register(*cmd, 0);
  flags->sampler.options.temperature = 0.f;  // answers are greedy by default
  flags->sampler.Register(*cmd);
  cmd->add_option("-f,--file", flags->doc_path, "document")->required();
  cmd->add_option("-p,--prompt", flags->question, "question")->required();
  cmd->add_option("-n,--n-predict", flags->n_predict, "max answer tokens")
      ->capture_default_str();
  cmd->add_option("--kv", flags->kv_method, "KV cache method")
      ->capture_default_str();
  cmd->callback([flags] {
    const Status s = RunRun(*flags);
    if (!s.ok()) throw CLI::RuntimeError(ReportError(s));
  });
}

}  // namespace skv::tools
