// `structkv inspect FILE`: metadata, tensors and sizes of a GGUF file, and
// whether StructKV can run it (and if not, why).
#include <fmt/core.h>

#include <map>
#include <memory>

#include "models/architecture.h"
#include "tools/common.h"

namespace skv::tools {
namespace {

struct InspectFlags {
  std::string path;
  bool all_tensors = false;
};

Status RunInspect(const InspectFlags& f) {
  SKV_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, GgufFile::Open(f.path));
  fmt::print("file: {}\nGGUF version {}, {}, alignment {}, data at offset {}\n",
             file->path(), file->version(),
             HumanBytes(static_cast<double>(file->file_size())),
             file->alignment(), file->data_offset());
  fmt::print("\nmetadata ({} keys):\n", file->metadata().size());
  for (const auto& [key, value] : file->metadata()) {
    fmt::print("  {:<48} {:<8} {}\n", key, GgufValueTypeName(value.type),
               GgufFile::ValueToString(value));
  }
  std::map<std::string, std::pair<int64_t, uint64_t>> by_type;  // count, bytes
  uint64_t total = 0;
  fmt::print("\ntensors ({}):\n", file->tensors().size());
  size_t shown = 0;
  for (const auto& t : file->tensors()) {
    auto& entry = by_type[GgmlTypeName(t.type)];
    entry.first++;
    entry.second += t.nbytes;
    total += t.nbytes;
    if (f.all_tensors || shown < 24) {
      fmt::print("  {:<40} {:<6} {:<20} {}\n", t.name, GgmlTypeName(t.type),
                 t.ShapeString(), HumanBytes(static_cast<double>(t.nbytes)));
      ++shown;
    }
  }
  if (shown < file->tensors().size()) {
    fmt::print("  ... {} more (--all to list them)\n",
               file->tensors().size() - shown);
  }
  fmt::print("\nby type:\n");
  for (const auto& [name, e] : by_type) {
    fmt::print("  {:<6} {:>5} tensors  {}\n", name, e.first,
               HumanBytes(static_cast<double>(e.second)));
  }
  fmt::print("  total  {}\n", HumanBytes(static_cast<double>(total)));
  // Report whether the runtime can run this file.
  auto model = Model::Load(f.path);
  if (model.ok()) {
    const ModelConfig& c = (*model)->config();
    int sliding = 0;
    for (const auto& l : c.layers) sliding += l.sliding ? 1 : 0;
    fmt::print(
        "\nrunnable: yes ({}; {} layers ({} sliding-window), head_dim {}, "
        "rope base {}, ctx_train {}, tokenizer {}/{})\n",
        c.architecture, c.n_layers, sliding, c.head_dim,
        c.layers.back().rope.freq_base, c.n_ctx_train,
        (*model)->tokenizer().model_name(), (*model)->tokenizer().pre_name());
  } else {
    fmt::print("\nrunnable: no: {}\n", model.status().message());
  }
  return Status::Ok();
}

}  // namespace

void RegisterInspect(CLI::App& app) {
  auto flags = std::make_shared<InspectFlags>();
  CLI::App* cmd =
      app.add_subcommand("inspect", "show a GGUF file's metadata and tensors");
  cmd->add_option("file", flags->path, "GGUF file")->required();
  cmd->add_flag("--all", flags->all_tensors, "list every tensor");
  cmd->callback([flags] {
    const Status s = RunInspect(*flags);
    if (!s.ok()) throw CLI::RuntimeError(ReportError(s));
  });
}

}  // namespace skv::tools
