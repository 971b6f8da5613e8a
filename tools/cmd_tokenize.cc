// `structkv tokenize`: prints the token ids of a text (space-separated, one
// line), BOS/EOS per the model's metadata. Used to compare with llama.cpp.
#include <fmt/core.h>

#include <memory>

#include "tools/common.h"

namespace skv::tools {
namespace {

struct TokenizeFlags {
  ModelFlags model;
  PromptFlags prompt;
  bool no_special = false;
  bool parse_special = false;
  bool pieces = false;
};

Status RunTokenize(const TokenizeFlags& f) {
  SKV_ASSIGN_OR_RETURN(std::string text, f.prompt.Text());
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file,
                       GgufFile::Open(f.model.path));
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok,
                       Tokenizer::FromGguf(*file));
  const std::vector<int32_t> ids =
      tok->Encode(text, !f.no_special, f.parse_special);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) line += ' ';
    line += std::to_string(ids[i]);
    if (f.pieces) line += ":" + tok->TokenToPiece(ids[i], true);
  }
  fmt::print("{}\n", line);
  return Status::Ok();
}

}  // namespace

void RegisterTokenize(CLI::App& app) {
  auto flags = std::make_shared<TokenizeFlags>();
  CLI::App* cmd = app.add_subcommand("tokenize", "print the token ids of a text");
  flags->model.Register(*cmd);
  flags->prompt.Register(*cmd, /*allow_chat=*/false);
  cmd->add_flag("--no-special", flags->no_special, "do not add BOS/EOS");
  cmd->add_flag("--parse-special", flags->parse_special,
                "turn special-token text (e.g. <start_of_turn>) into tokens");
  cmd->add_flag("--pieces", flags->pieces, "print id:piece pairs");
  cmd->callback([flags] {
    const Status s = RunTokenize(*flags);
    if (!s.ok()) throw CLI::RuntimeError(ReportError(s));
  });
}

}  // namespace skv::tools
