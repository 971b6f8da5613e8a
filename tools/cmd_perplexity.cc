// `structkv perplexity`: llama.cpp's perplexity method (non-overlapping n_ctx
// chunks, second half scored), printing PPL with its standard error.
#include <fmt/core.h>

#include <memory>

#include "runtime/perplexity.h"
#include "tools/common.h"

namespace skv::tools {
namespace {

struct PerplexityFlags {
  ModelFlags model;
  RuntimeFlags runtime;
  SessionFlags session;
  std::string file;
  int64_t chunks = 0;
  std::string json_out;
};

Status RunPerplexity(const PerplexityFlags& f) {
  SKV_ASSIGN_OR_RETURN(RuntimeContext ctx,
                       CreateRuntime(f.runtime));
  SKV_ASSIGN_OR_RETURN(std::string text, ReadTextFile(f.file));
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                       LoadModelVerbose(f.model.path, ctx));
  const std::vector<int32_t> tokens =
      model->tokenizer().Encode(text, /*add_special=*/true,
                                /*parse_special=*/false);
  SessionOptions so = f.session.options;
  so.n_batch = std::max(so.n_batch, so.n_ctx);
  SKV_ASSIGN_OR_RETURN(Session session, Session::Create(*model, so));
  fmt::print(stderr, "{}; {} tokens, n_ctx {}\n", ctx.Describe(),
             tokens.size(), so.n_ctx);
  Stopwatch sw;
  SKV_ASSIGN_OR_RETURN(
      PerplexityResult r,
      ComputePerplexity(session, tokens, f.chunks, [&](int64_t i, double ppl) {
        fmt::print(stderr, "[{}] {:.4f} ({:.1f} s)\n", i + 1, ppl, sw.Seconds());
      }));
  fmt::print("Final estimate: PPL = {:.4f} +/- {:.5f}\n", r.ppl, r.ppl_stderr);
  const double secs = sw.Seconds();
  fmt::print(stderr,
             "{} chunks, {} scored tokens, {:.1f} s ({:.1f} tok/s evaluated); "
             "peak RSS {}\n",
             r.chunks, r.scored_tokens, secs, r.chunks * so.n_ctx / secs,
             HumanBytes(static_cast<double>(PeakRssBytes())));
  if (!f.json_out.empty()) {
    FILE* out = std::fopen(f.json_out.c_str(), "w");
    if (out == nullptr) return Status::Error(f.json_out + ": cannot write");
    fmt::print(out,
               "{{\"ppl\": {:.6f}, \"stderr\": {:.6f}, \"chunks\": {}, "
               "\"scored_tokens\": {}, \"n_ctx\": {}}}\n",
               r.ppl, r.ppl_stderr, r.chunks, r.scored_tokens, so.n_ctx);
    std::fclose(out);
  }
  return Status::Ok();
}

}  // namespace

void RegisterPerplexity(CLI::App& app) {
  auto flags = std::make_shared<PerplexityFlags>();
  CLI::App* cmd = app.add_subcommand(
      "perplexity", "perplexity of a text file (llama.cpp's method)");
  flags->model.Register(*cmd);
  flags->runtime.Register(*cmd);
  flags->session.Register(*cmd, 512);
  cmd->add_option("-f,--file", flags->file, "text file")->required();
  cmd->add_option("--chunks", flags->chunks, "score at most this many chunks (0: all)");
  cmd->add_option("--json", flags->json_out, "also write the result as JSON here");
  cmd->callback([flags] {
    const Status s = RunPerplexity(*flags);
    if (!s.ok()) throw CLI::RuntimeError(ReportError(s));
  });
}

}  // namespace skv::tools
