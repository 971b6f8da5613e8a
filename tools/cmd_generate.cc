// `structkv generate`: llama.cpp-style text generation (-m -p/-f -n -c -t
// --temp --seed --chat), streaming the text to stdout and statistics to
// stderr.
#include <fmt/core.h>

#include <memory>

#include "runtime/generate.h"
#include "tools/common.h"

namespace skv::tools {
namespace {

struct GenerateFlags {
  ModelFlags model;
  RuntimeFlags runtime;
  SessionFlags session;
  SamplerFlags sampler;
  PromptFlags prompt;
  int64_t n_predict = 128;
  bool ids = false;
};

Status RunGenerate(const GenerateFlags& f) {
  if (f.n_predict < 0) return Status::Error("-n/--n-predict must be >= 0");
  SKV_ASSIGN_OR_RETURN(RuntimeContext ctx,
                       CreateRuntime(f.runtime));
  SKV_ASSIGN_OR_RETURN(std::string text, f.prompt.Text());
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                       LoadModelVerbose(f.model.path, ctx));
  if (f.prompt.chat) {
    SKV_ASSIGN_OR_RETURN(text, ApplyChat(*model, text));
  }
  const Tokenizer& tok = model->tokenizer();
  const std::vector<int32_t> prompt =
      tok.Encode(text, /*add_special=*/true, /*parse_special=*/true);
  SessionOptions so = f.session.options;
  if (so.n_ctx <= 0) so.n_ctx = static_cast<int64_t>(prompt.size()) + f.n_predict;
  so.trim_sliding_window = true;
  SKV_ASSIGN_OR_RETURN(Session session, Session::Create(*model, so));
  SKV_ASSIGN_OR_RETURN(Sampler sampler, Sampler::Create(f.sampler.options));
  fmt::print(stderr, "{}; prompt {} tokens\n", ctx.Describe(), prompt.size());
  std::vector<int32_t> out;
  SKV_ASSIGN_OR_RETURN(
      GenerationStats stats,
      Generate(session, sampler, prompt, f.n_predict, [&](int32_t id) {
        out.push_back(id);
        if (f.ids) {
          fmt::print("{} ", id);
        } else {
          fmt::print("{}", tok.TokenToPiece(id, /*special=*/false));
        }
        std::fflush(stdout);
        return true;
      }));
  fmt::print("\n");
  fmt::print(stderr,
             "prefill: {} tokens in {:.3f} s ({:.1f} tok/s); decode: {} tokens "
             "in {:.3f} s ({:.1f} tok/s); peak RSS {}\n",
             stats.prompt_tokens, stats.prefill_seconds,
             stats.prompt_tokens / std::max(stats.prefill_seconds, 1e-9),
             stats.generated_tokens, stats.decode_seconds,
             stats.generated_tokens / std::max(stats.decode_seconds, 1e-9),
             HumanBytes(static_cast<double>(PeakRssBytes())));
  return Status::Ok();
}

}  // namespace

void RegisterGenerate(CLI::App& app) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* cmd = app.add_subcommand("generate", "generate text from a prompt");
  flags->model.Register(*cmd);
  flags->runtime.Register(*cmd);
  flags->session.Register(*cmd, 0);
  flags->sampler.Register(*cmd);
  flags->prompt.Register(*cmd, /*allow_chat=*/true);
  cmd->add_option("-n,--n-predict", flags->n_predict, "tokens to generate")
      ->capture_default_str();
  cmd->add_flag("--ids", flags->ids, "print token ids instead of text");
  cmd->callback([flags] {
    const Status s = RunGenerate(*flags);
    if (!s.ok()) throw CLI::RuntimeError(ReportError(s));
  });
}

}  // namespace skv::tools
