// `structkv logits`: teacher-forced next-token logits for a list of token ids,
// evaluated in independent chunks of -c tokens (each from an empty cache) and
// written as raw little-endian f32 [tokens][n_vocab]. Correctness tests
// compare these with llama.cpp's on the same ids.
#include <fmt/core.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "tools/common.h"

namespace skv::tools {
namespace {

struct LogitsFlags {
  ModelFlags model;
  RuntimeFlags runtime;
  SessionFlags session;
  std::string tokens_path;
  std::string out_path;
};

StatusOr<std::vector<int32_t>> ReadIds(const std::string& path) {
  SKV_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  std::istringstream in(text);
  std::vector<int32_t> ids;
  std::string word;
  while (in >> word) {
    char* end = nullptr;
    const long v = std::strtol(word.c_str(), &end, 10);
    if (*end != '\0') {
      return Status::Error(path + ": '" + word + "' is not a token id");
    }
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

Status RunLogits(const LogitsFlags& f) {
  SKV_ASSIGN_OR_RETURN(RuntimeContext ctx,
                       CreateRuntime(f.runtime));
  SKV_ASSIGN_OR_RETURN(std::vector<int32_t> ids, ReadIds(f.tokens_path));
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                       LoadModelVerbose(f.model.path, ctx));
  SessionOptions so = f.session.options;
  so.n_batch = std::max(so.n_batch, so.n_ctx);
  SKV_ASSIGN_OR_RETURN(Session session, Session::Create(*model, so));
  std::ofstream out(f.out_path, std::ios::binary);
  if (!out) return Status::Error(f.out_path + ": cannot open for writing");
  std::vector<float> logits;
  const int64_t n = static_cast<int64_t>(ids.size());
  for (int64_t b = 0; b < n; b += so.n_ctx) {
    const int64_t len = std::min(so.n_ctx, n - b);
    session.Reset();
    SKV_RETURN_IF_ERROR(session.Evaluate(
        std::span<const int32_t>(ids.data() + b, len), true, &logits));
    out.write(reinterpret_cast<const char*>(logits.data()),
              static_cast<std::streamsize>(logits.size() * sizeof(float)));
    if (!out) return Status::Error(f.out_path + ": write failed (disk full?)");
  }
  fmt::print(stderr, "{}: {} tokens x {} logits ({})\n", f.out_path, n,
             model->config().n_vocab, ctx.Describe());
  return Status::Ok();
}

}  // namespace

void RegisterLogits(CLI::App& app) {
  auto flags = std::make_shared<LogitsFlags>();
  CLI::App* cmd = app.add_subcommand(
      "logits", "dump teacher-forced logits of token ids (f32 binary)");
  flags->model.Register(*cmd);
  flags->runtime.Register(*cmd);
  flags->session.Register(*cmd, 512);
  cmd->add_option("--tokens", flags->tokens_path,
                  "file of whitespace-separated token ids")->required();
  cmd->add_option("-o,--out", flags->out_path, "output file")->required();
  cmd->callback([flags] {
    const Status s = RunLogits(*flags);
    if (!s.ok()) throw CLI::RuntimeError(ReportError(s));
  });
}

}  // namespace skv::tools
