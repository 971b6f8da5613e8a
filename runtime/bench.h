// End-to-end benchmarks in llama-bench's shape: `ppN` (prefill N tokens into
// an empty cache) and `tgN@dD` (decode N tokens one at a time after an
// untimed prefill of D tokens), repeated with mean and standard deviation of
// tokens/s, one row per (model, threads, test) with everything needed to
// compare runs across machines (SIMD target, NUMA, RSS, KV bytes, achieved
// fraction of the measured read bandwidth). The CLI (`structkv bench`) only
// parses flags and prints; the loops, statistics and row formats live here so
// that tests reach them without a model file.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "models/model.h"
#include "runtime/context.h"

namespace skv {

// Parses a comma-separated list of integers ("512,4096"). Errors name `flag`
// and the offending item; values below `min_value` are rejected.
StatusOr<std::vector<int64_t>> ParseIntList(std::string_view text,
                                            std::string_view flag,
                                            int64_t min_value);
// Comma-separated non-empty strings ("a.gguf,b.gguf").
StatusOr<std::vector<std::string>> ParseStringList(std::string_view text,
                                                   std::string_view flag);

struct SampleStats {
  double mean = 0;
  double stddev = 0;  // sample standard deviation (n - 1); 0 for n < 2
  int n = 0;
};
SampleStats ComputeStats(std::span<const double> values);

// Calls `warmup` (unrecorded; may be empty) once, then `timed_once` (which
// returns the seconds of its timed part) `reps` times, and returns tokens/s
// of each repetition (`tokens` / seconds).
StatusOr<std::vector<double>> MeasureRepetitions(
    int reps, const std::function<Status()>& warmup, int64_t tokens,
    const std::function<StatusOr<double>()>& timed_once);

// The warm-up runs a shortened test of the same kind: at most this many
// prompt (or depth) tokens, which is one prefill batch, enough to fault in
// every weight page and size the batch scratch, and at most
// kWarmupDecodeTokens decodes. A full-length warm-up would double the cost
// of a pp4096 or tg@d4096 row for nothing the timed runs need.
inline constexpr int64_t kWarmupPromptTokens = 512;
inline constexpr int64_t kWarmupDecodeTokens = 8;

struct BenchTest {
  int64_t n_prompt = 0;  // > 0: a prefill test
  int64_t n_gen = 0;     // > 0: a decode test
  int64_t depth = 0;     // tokens already in the cache (decode tests)
  // "pp512", "tg64@d4096" (llama-bench's names; "@d0" is omitted).
  std::string Name() const;
  bool is_decode() const { return n_gen > 0; }
};
// One pp test per -p value (0 skips), then one tg test per (-n, -d) pair.
std::vector<BenchTest> PlanTests(std::span<const int64_t> prompts,
                                 std::span<const int64_t> gens,
                                 std::span<const int64_t> depths);

struct BenchRow {
  std::string model_path;
  std::string architecture;
  int64_t model_bytes = 0;   // GGUF file size
  int64_t weight_bytes = 0;  // tensors the forward pass reads
  std::string quant_type;    // dominant tensor type by bytes ("q8_0")
  std::string test;
  int64_t n_prompt = 0, n_gen = 0, depth = 0;
  double tps_mean = 0, tps_stddev = 0;
  std::vector<double> tps_samples;  // [reps]
  int reps = 0;
  int threads = 0;
  // Highway target the kernels dispatched to (STRUCTKV_SIMD_MAX caps it);
  // "AVX3/AVX3_DL" when the quantised decode GEMV (integer dots, VNNI)
  // runs on a different target than the float kernels.
  std::string simd_target;
  // GEMM behind prefill batches (simd/matmul.h PrefillGemm: "f32", "bf16").
  std::string prefill_gemm;
  std::string numa_policy = "none";  // resolved --numa policy (never "auto")
  std::string kv_type = "f16";       // KV cache storage (--cache-type)
  int numa_nodes = 1;                // nodes of the machine (usable CPUs)
  bool pinned = false;               // every worker pinned to its planned CPU
  int64_t peak_rss_bytes = 0;
  int64_t kv_bytes = 0;       // session's live KV bytes at the end of the test
  // tg rows: bytes each decode step streams, weights + the mean live KV over
  // the timed steps (a sliding-window layer keeps up to a block of 256
  // entries more than its window, which it does not read: a slight upper
  // bound). 0 for pp rows.
  double bytes_per_token = 0;
  double bw_gbps = 0;  // probe result; 0 when the probe was skipped
  // tg rows with a probe: bytes_per_token * tokens/s / bw_gbps. Negative when
  // not applicable.
  double bw_fraction = -1;
  // pp rows: FLOPs of one uncompressed prefill of n_prompt tokens
  // (runtime/flops.h: projections, FFN, attention over the visible keys, the
  // LM head for the last row), in GFLOP. 0 for tg rows.
  double prefill_gflop = 0;
  double fma_peak_gflops = 0;  // f32 FMA probe (simd/fma_peak.h); 0 when skipped
  // pp rows with a probe: prefill_gflop * tokens/s / n_prompt / fma_peak_gflops.
  // Negative when not applicable.
  double compute_fraction = -1;
};

// Fills bw_gbps and, for decode rows, bw_fraction. Separate from the runs so
// that the probe's buffer can be allocated after them and stay out of the
// rows' peak RSS.
void ApplyBandwidth(double gb_per_s, std::span<BenchRow> rows);
// Fills fma_peak_gflops and, for prefill rows, compute_fraction.
void ApplyComputePeak(double gflop_per_s, std::span<BenchRow> rows);

nlohmann::ordered_json RowToJson(const BenchRow& row);
nlohmann::ordered_json RowsToJson(std::span<const BenchRow> rows);
std::string RowsToCsv(std::span<const BenchRow> rows);
// llama-bench-style markdown table for stdout.
std::string RowsToTable(std::span<const BenchRow> rows);

// The tensor type holding the most bytes in the file ("q4_K", "q8_0").
std::string DominantTensorType(const GgufFile& file);

struct BenchOptions {
  std::vector<BenchTest> tests;
  int reps = 5;
  bool warmup = true;
  int64_t n_batch = 512;
  GgmlType kv_type = GgmlType::kF16;  // --cache-type
};

// Runs every test on `model`, feeding `tokens` (at least the longest test's
// prompt + depth + generation: prefill tests use the first n_prompt ids,
// decode tests prefill the first `depth` then decode the following n_gen one
// at a time). Only the prefill (pp) or the decode steps (tg) are timed; every
// step computes the last position's logits, as a real run would. `on_row` is
// called after each test so callers can print progress.
StatusOr<std::vector<BenchRow>> RunModelBench(
    const Model& model, const RuntimeContext& ctx, const BenchOptions& options,
    std::span<const int32_t> tokens,
    const std::function<void(const BenchRow&)>& on_row);

// Benchmark input: `text` tokenized with the model's tokenizer (BOS as the
// file asks), its body repeated until `n` ids. A built-in English passage
// when `text` is empty. Errors when the text yields no tokens.
StatusOr<std::vector<int32_t>> BenchTokensFromText(const Model& model,
                                                   std::string_view text,
                                                   int64_t n);
// Ids from a whitespace/comma separated list, repeated to `n`; errors name
// `source` (the --tokens file) and invalid ids.
StatusOr<std::vector<int32_t>> BenchTokensFromList(std::string_view list,
                                                   std::string_view source,
                                                   int32_t n_vocab, int64_t n);

}  // namespace skv
