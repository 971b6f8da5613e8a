#include "tools/common.h"

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "simd/dispatch.h"

namespace skv::tools {

void ModelFlags::Register(CLI::App& app) {
  app.add_option("-m,--model", path, "GGUF model file")->required();
}

const char* const kNumaHelp =
    "thread pinning and memory placement: auto (interleave when the threads "
    "span several NUMA nodes, else local), none (no pinning, no memory "
    "policy), interleave (pin; weights interleaved over the threads' nodes), "
    "local (pin; KV and scratch on each thread's own node)";

void RuntimeFlags::Register(CLI::App& app) {
  app.add_option("-t,--threads", threads, "worker threads (0 = all CPUs)")
      ->capture_default_str();
  app.add_option("--numa", numa, kNumaHelp)->capture_default_str();
}

StatusOr<RuntimeOptions> RuntimeFlags::Options() const {
  RuntimeOptions o;
  o.threads = threads;
  SKV_ASSIGN_OR_RETURN(o.numa, ParseNumaPolicy(numa));
  return o;
}

StatusOr<RuntimeContext> CreateRuntime(const RuntimeOptions& options) {
  // The kernel libraries read these when they load and can only warn; a
  // command that runs a model refuses a typo instead of running with the
  // defaults (the error names the variable and the accepted values).
  SKV_RETURN_IF_ERROR(CapSimdTargetsFromEnv());
  SKV_RETURN_IF_ERROR(GemmTypeFromEnv().status());
  SKV_ASSIGN_OR_RETURN(RuntimeContext ctx,
                       RuntimeContext::Create(options, NumaTopology::Detect()));
  for (const std::string& w : ctx.warnings()) {
    fmt::print(stderr, "structkv: warning: {}\n", w);
  }
  return ctx;
}

StatusOr<RuntimeContext> CreateRuntime(const RuntimeFlags& flags) {
  SKV_ASSIGN_OR_RETURN(RuntimeOptions options, flags.Options());
  return CreateRuntime(options);
}

void SessionFlags::Register(CLI::App& app, int64_t default_ctx) {
  options.n_ctx = default_ctx;
  app.add_option("-c,--ctx-size", options.n_ctx, "context size in tokens")
      ->capture_default_str();
  app.add_option("-b,--batch-size", options.n_batch,
                 "prompt tokens per forward batch")
      ->capture_default_str();
  AddCacheTypeOption(app, &options.kv_type);
}

void AddCacheTypeOption(CLI::App& app, GgmlType* type) {
  app.add_option_function<std::string>(
         "--cache-type",
         [type](const std::string& name) {
           StatusOr<GgmlType> t = ParseKvCacheType(name);
           if (!t.ok()) throw CLI::ValidationError(t.status().message());
           *type = *t;
         },
         "KV cache storage: f16 (default), bf16, or q8_0 (half the bytes; head dims "
         "multiple of 32)")
      ->default_str("f16");
}

void SamplerFlags::Register(CLI::App& app) {
  app.add_option("--temp", options.temperature, "temperature (<= 0: greedy)")
      ->capture_default_str();
  app.add_option("--top-k", options.top_k, "top-k (<= 0: off)")
      ->capture_default_str();
  app.add_option("--top-p", options.top_p, "top-p (1: off)")
      ->capture_default_str();
  app.add_option("--min-p", options.min_p, "min-p (0: off)")
      ->capture_default_str();
  app.add_option("--seed", options.seed, "random seed")->capture_default_str();
}

void PromptFlags::Register(CLI::App& app, bool allow_chat) {
  app.add_option("-p,--prompt", prompt, "prompt text");
  app.add_option("-f,--file", file, "read the prompt from this file");
  if (allow_chat) {
    app.add_flag("--chat", chat, "wrap the prompt in the model's chat template");
  }
}

StatusOr<std::string> PromptFlags::Text() const {
  if (!prompt.empty() && !file.empty()) {
    return Status::Error("give the prompt with -p or -f, not both");
  }
  if (!file.empty()) return ReadTextFile(file);
  if (prompt.empty()) return Status::Error("no prompt: give -p TEXT or -f FILE");
  return prompt;
}

StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::Error(path + ": cannot open: " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status::Error(path + ": read error");
  return ss.str();
}

StatusOr<std::unique_ptr<Model>> LoadModelVerbose(const std::string& path,
                                                  const RuntimeContext& ctx) {
  Stopwatch sw;
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, Model::Load(path));
  // Interleaving faults the whole file in, so it is part of the load time.
  const std::string placed = ctx.placement().weight_nodes.empty()
                                 ? std::string()
                                 : ctx.PlaceWeights(model->file().tensor_data());
  const ModelConfig& c = model->config();
  fmt::print(stderr,
             "model: {} ({}{}{}), {} layers, {} embd, {} heads / {} kv, "
             "vocab {}, weights {}, loaded in {:.2f} s\n",
             path, c.architecture, c.name.empty() ? "" : ": ", c.name,
             c.n_layers, c.n_embd, c.n_heads, c.n_kv_heads, c.n_vocab,
             HumanBytes(static_cast<double>(model->weight_bytes())),
             sw.Seconds());
  if (!placed.empty()) fmt::print(stderr, "{}\n", placed);
  return model;
}

StatusOr<std::string> ApplyChat(const Model& model,
                                const std::string& user_text) {
  SKV_ASSIGN_OR_RETURN(ChatFamily family, DetectChatFamily(model.file()));
  return FormatChat(family, {{"user", user_text}}, true);
}

int ReportError(const Status& status) {
  fmt::print(stderr, "structkv: error: {}\n", status.message());
  return 1;
}

}  // namespace skv::tools
