// `structkv`: the command line. Each subcommand lives in its own file and
// registers its flags here; all real work happens in runtime/ and below.
#include <CLI/CLI.hpp>

#include "tools/common.h"

namespace skv::tools {
void RegisterEval(CLI::App& app);  // tools/cmd_eval.cc
}  // namespace skv::tools

int main(int argc, char** argv) {
  CLI::App app{"StructKV: long-context LLM inference on CPUs"};
  app.require_subcommand(1);
  skv::tools::RegisterRun(app);
  skv::tools::RegisterGenerate(app);
  skv::tools::RegisterPerplexity(app);
  skv::tools::RegisterInspect(app);
  skv::tools::RegisterTokenize(app);
  skv::tools::RegisterLogits(app);
  skv::tools::RegisterBench(app);
  skv::tools::RegisterEval(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}
