// `structkv bench`: llama-bench-shaped end-to-end benchmark (-m -p -n -d -t
// --numa -r --json/--csv). Flag parsing and printing only; the measurement loops,
// statistics and row formats live in runtime/bench.h, the bandwidth probe in
// runtime/bandwidth.h, the compute probe in simd/fma_peak.h.
#include <fmt/core.h>

#include <fstream>
#include <memory>
#include <tuple>

#include "runtime/bandwidth.h"
#include "runtime/bench.h"
#include "simd/fma_peak.h"
#include "tools/common.h"

namespace skv::tools {
namespace {

struct BenchFlags {
  std::string models;
  std::string prompts = "512";
  std::string gens = "128";
  std::string depths = "0";
  std::string threads = "0";
  std::string numa = "auto";
  int reps = 5;
  bool no_warmup = false;
  int64_t n_batch = 512;
  GgmlType kv_type = GgmlType::kF16;
  int64_t bw_bytes = int64_t{1} << 30;
  int fma_runs = 3;
  std::string text_file;
  std::string tokens_file;
  std::string json_out;
  std::string csv_out;
};

Status WriteFile(const std::string& path, const std::string& text,
                 const char* flag) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return Status::Error(std::string(flag) + " " + path + ": cannot open for writing");
  out << text;
  out.close();
  if (!out) return Status::Error(std::string(flag) + " " + path + ": write error");
  return Status::Ok();
}

Status RunBench(const BenchFlags& f) {
  SKV_ASSIGN_OR_RETURN(std::vector<std::string> models,
                       ParseStringList(f.models, "-m/--model"));
  SKV_ASSIGN_OR_RETURN(std::vector<int64_t> prompts,
                       ParseIntList(f.prompts, "-p/--n-prompt", 0));
  SKV_ASSIGN_OR_RETURN(std::vector<int64_t> gens,
                       ParseIntList(f.gens, "-n/--n-gen", 0));
  SKV_ASSIGN_OR_RETURN(std::vector<int64_t> depths,
                       ParseIntList(f.depths, "-d/--n-depth", 0));
  SKV_ASSIGN_OR_RETURN(std::vector<int64_t> threads,
                       ParseIntList(f.threads, "-t/--threads", 0));
  if (f.reps <= 0) {
    return Status::Error("-r/--repetitions must be > 0, got " + std::to_string(f.reps));
  }
  if (f.fma_runs < 0) {
    return Status::Error("--fma-runs must be >= 0 (0 skips the probe), got " +
                         std::to_string(f.fma_runs));
  }
  if (f.bw_bytes != 0 && f.bw_bytes < 4096) {
    return Status::Error("--bw-bytes must be 0 (skip) or >= 4096, got " +
                         std::to_string(f.bw_bytes));
  }
  if (!f.text_file.empty() && !f.tokens_file.empty()) {
    return Status::Error("give the input with -f or --tokens, not both");
  }
  BenchOptions options;
  options.tests = PlanTests(prompts, gens, depths);
  if (options.tests.empty()) {
    return Status::Error("no tests: -p and -n are both 0");
  }
  options.reps = f.reps;
  options.warmup = !f.no_warmup;
  options.n_batch = f.n_batch;
  options.kv_type = f.kv_type;
  int64_t n_tokens = 0;
  for (const BenchTest& t : options.tests) {
    n_tokens = std::max(n_tokens, t.is_decode() ? t.depth + t.n_gen : t.n_prompt);
  }
  std::string text, token_list;
  for (auto [path, flag, out] : {std::tuple{&f.text_file, "-f/--file", &text},
                                 std::tuple{&f.tokens_file, "--tokens", &token_list}}) {
    if (path->empty()) continue;
    StatusOr<std::string> content = ReadTextFile(*path);
    if (!content.ok()) {
      return Status::Error(std::string(flag) + ": " + content.status().message());
    }
    *out = std::move(*content);
  }

  SKV_ASSIGN_OR_RETURN(const NumaPolicy numa, ParseNumaPolicy(f.numa));
  // Every thread count is checked against the CPUs before the first test, so
  // that `-t 2,64` fails at once, not after the -t 2 rows.
  const NumaTopology topology = NumaTopology::Detect();
  for (int64_t t : threads) {
    SKV_RETURN_IF_ERROR(PlanPlacement(topology, static_cast<int>(t), numa).status());
  }

  std::vector<BenchRow> rows;
  for (int64_t t : threads) {
    RuntimeOptions ro;
    ro.threads = static_cast<int>(t);
    ro.numa = numa;
    SKV_ASSIGN_OR_RETURN(RuntimeContext ctx, CreateRuntime(ro));
    const size_t first_row = rows.size();
    for (const std::string& path : models) {
      SKV_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, LoadModelVerbose(path, ctx));
      std::vector<int32_t> ids;
      if (!f.tokens_file.empty()) {
        SKV_ASSIGN_OR_RETURN(ids, BenchTokensFromList(token_list, f.tokens_file,
                                                      model->config().n_vocab,
                                                      n_tokens));
      } else {
        SKV_ASSIGN_OR_RETURN(ids, BenchTokensFromText(*model, text, n_tokens));
      }
      fmt::print(stderr, "{}; {} tests x {} reps{}\n", ctx.Describe(),
                 options.tests.size(), options.reps,
                 options.warmup ? " (+1 warm-up)" : "");
      SKV_ASSIGN_OR_RETURN(
          std::vector<BenchRow> model_rows,
          RunModelBench(*model, ctx, options, ids, [](const BenchRow& row) {
            // Progress: long-depth runs take minutes.
            fmt::print(stderr, "  {}: {:.2f} ± {:.2f} t/s\n", row.test,
                       row.tps_mean, row.tps_stddev);
          }));
      rows.insert(rows.end(), model_rows.begin(), model_rows.end());
    }
    // The probe runs after the models so that its buffer stays out of the
    // rows' peak RSS.
    if (f.bw_bytes > 0) {
      BandwidthOptions bo;
      bo.bytes = f.bw_bytes;
      SKV_ASSIGN_OR_RETURN(BandwidthResult bw, MeasureReadBandwidth(bo));
      ApplyBandwidth(bw.gb_per_s, std::span<BenchRow>(rows).subspan(first_row));
      fmt::print("read bandwidth ({} threads, {} buffer, best of {}): {:.2f} GB/s\n",
                 ctx.threads(), HumanBytes(static_cast<double>(bw.bytes)), bw.runs,
                 bw.gb_per_s);
    }
    if (f.fma_runs > 0) {
      const FmaPeakResult peak = MeasureFmaPeak(f.fma_runs);
      ApplyComputePeak(peak.gflop_per_s, std::span<BenchRow>(rows).subspan(first_row));
      fmt::print("f32 FMA peak ({} threads, {}, best of {}): {:.1f} GFLOP/s\n", peak.threads,
                 peak.target, f.fma_runs, peak.gflop_per_s);
    }
  }
  fmt::print("{}", RowsToTable(rows));
  if (!f.json_out.empty()) {
    SKV_RETURN_IF_ERROR(WriteFile(f.json_out, RowsToJson(rows).dump(2) + "\n", "--json"));
  }
  if (!f.csv_out.empty()) {
    SKV_RETURN_IF_ERROR(WriteFile(f.csv_out, RowsToCsv(rows), "--csv"));
  }
  return Status::Ok();
}

}  // namespace

void RegisterBench(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "llama-bench-style benchmark: ppN (prefill N tokens, empty cache) and "
      "tgN@dD (decode N tokens after an untimed prefill of D)");
  cmd->add_option("-m,--model", flags->models, "GGUF file(s), comma-separated")
      ->required();
  cmd->add_option("-p,--n-prompt", flags->prompts,
                  "prefill lengths, comma-separated (0: no pp tests)")
      ->capture_default_str();
  cmd->add_option("-n,--n-gen", flags->gens,
                  "decode lengths, comma-separated (0: no tg tests)")
      ->capture_default_str();
  cmd->add_option("-d,--n-depth", flags->depths,
                  "tokens in the cache before decoding, comma-separated")
      ->capture_default_str();
  cmd->add_option("-t,--threads", flags->threads,
                  "thread counts, comma-separated (0 = all CPUs)")
      ->capture_default_str();
  cmd->add_option("--numa", flags->numa, kNumaHelp)->capture_default_str();
  cmd->add_option("-r,--repetitions", flags->reps, "timed repetitions per test")
      ->capture_default_str();
  cmd->add_flag("--no-warmup", flags->no_warmup,
                "skip the untimed warm-up of each test (a shortened run: <= 512 prompt/depth tokens, <= 8 decodes)");
  cmd->add_option("-b,--batch-size", flags->n_batch, "prompt tokens per forward batch")
      ->capture_default_str();
  AddCacheTypeOption(*cmd, &flags->kv_type);
  cmd->add_option("--bw-bytes", flags->bw_bytes,
                  "read-bandwidth probe buffer in bytes (0: skip the probe)")
      ->capture_default_str();
  cmd->add_option("--fma-runs", flags->fma_runs,
                  "runs of the f32 FMA peak probe behind the pp rows' FMA % (0: skip)")
      ->capture_default_str();
  cmd->add_option("-f,--file", flags->text_file,
                  "text whose tokens (repeated) feed the tests (default: a "
                  "built-in English passage)");
  cmd->add_option("--tokens", flags->tokens_file,
                  "file of token ids (whitespace/comma separated, repeated to "
                  "length) instead of text, e.g. to match llama.cpp exactly");
  auto* json = cmd->add_option("--json", flags->json_out, "write rows as a JSON list");
  auto* csv = cmd->add_option("--csv", flags->csv_out, "write rows as CSV");
  json->excludes(csv);
  cmd->callback([flags] {
    const Status s = RunBench(*flags);
    if (!s.ok()) throw CLI::RuntimeError(ReportError(s));
  });
}

}  // namespace skv::tools
