// Pieces shared by the subcommands: option structs that each register their
// own flags (help and validation come from one declaration), model loading
// with timing, file reading with errors that name the file, and the summary
// lines every run prints (tokens/s, peak RSS).
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "models/chat_template.h"
#include "models/model.h"
#include "runtime/context.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

namespace skv::tools {

struct ModelFlags {
  std::string path;
  void Register(CLI::App& app);
};

struct RuntimeFlags {
  int threads = 0;
  std::string numa = "auto";
  // -t/--threads and --numa (help lists the policies).
  void Register(CLI::App& app);
  StatusOr<RuntimeOptions> Options() const;
};

// Builds the RuntimeContext on the detected topology and prints its
// warnings (unpinnable threads, overridden OMP_PROC_BIND) to stderr.
StatusOr<RuntimeContext> CreateRuntime(const RuntimeOptions& options);
StatusOr<RuntimeContext> CreateRuntime(const RuntimeFlags& flags);

// --numa's help text, shared with `structkv bench`.
extern const char* const kNumaHelp;

struct SessionFlags {
  SessionOptions options;
  // -c, -b and --cache-type (f16, bf16, q8_0).
  void Register(CLI::App& app, int64_t default_ctx);
};

// Registers --cache-type on `app`, parsed into *type.
void AddCacheTypeOption(CLI::App& app, GgmlType* type);

struct SamplerFlags {
  SamplerOptions options;
  void Register(CLI::App& app);
};

// Prompt from -p or -f (exactly one), with errors naming the flag/file.
struct PromptFlags {
  std::string prompt;
  std::string file;
  bool chat = false;
  void Register(CLI::App& app, bool allow_chat);
  StatusOr<std::string> Text() const;
};

StatusOr<std::string> ReadTextFile(const std::string& path);

// Loads the model, applies the context's weight placement (--numa) and
// prints one line (architecture, size, load time), plus the placement when
// something was done.
StatusOr<std::unique_ptr<Model>> LoadModelVerbose(const std::string& path,
                                                  const RuntimeContext& ctx);

// Wraps `user_text` in the model's chat template when the family is known.
StatusOr<std::string> ApplyChat(const Model& model, const std::string& user_text);

// Prints "... error: <message>" to stderr and returns the process exit code.
int ReportError(const Status& status);

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Subcommand registration (one file each).
void RegisterGenerate(CLI::App& app);
void RegisterRun(CLI::App& app);
void RegisterPerplexity(CLI::App& app);
void RegisterInspect(CLI::App& app);
void RegisterTokenize(CLI::App& app);
void RegisterLogits(CLI::App& app);
void RegisterBench(CLI::App& app);

}  // namespace skv::tools
