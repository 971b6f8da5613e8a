#include "runtime/bench.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>

#include "base/parallel.h"
#include "runtime/flops.h"
#include "runtime/session.h"
#include "simd/dispatch.h"
#include "simd/matmul.h"
#include "simd/quant.h"
#include "simd/quant_dot.h"

namespace skv {
namespace {

// Real English prose (no markup), so the benchmark runs on a realistic id
// distribution rather than on random or constant ids.
constexpr std::string_view kBuiltinText =
    "The history of computing is a story of memory as much as of arithmetic. "
    "Early machines stored their programs on punched cards and paper tape, and "
    "engineers spent as much effort moving numbers between storage and the "
    "processor as they did computing with them. When integrated circuits made "
    "arithmetic cheap, the gap between the speed of a processor and the speed "
    "of its memory began to grow, and it has grown every year since. Modern "
    "servers hide that gap with several levels of cache, prefetchers that "
    "guess which addresses a program will need next, and many memory channels "
    "working in parallel. A language model that generates one word at a time "
    "must read every one of its weights for every word it writes, so on a "
    "general purpose processor its speed is set less by how fast it can "
    "multiply than by how quickly it can stream its parameters from memory. "
    "Long documents add a second stream: the cache of keys and values that "
    "attention consults grows with every token of context, and at a few "
    "thousand tokens it can rival the weights themselves. ";

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

StatusOr<std::vector<int64_t>> ParseIntList(std::string_view text,
                                            std::string_view flag,
                                            int64_t min_value) {
  const std::string what =
      std::string(flag) + " must be a comma-separated list of integers >= " +
      std::to_string(min_value);
  if (text.empty()) return Status::Error(what + ", got an empty list");
  std::vector<int64_t> values;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string_view item = text.substr(pos, comma - pos);
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() ||
        v < min_value) {
      return Status::Error(what + ", got '" + std::string(item) + "' in '" +
                           std::string(text) + "'");
    }
    values.push_back(v);
    pos = comma + 1;
  }
  return values;
}

StatusOr<std::vector<std::string>> ParseStringList(std::string_view text,
                                                   std::string_view flag) {
  std::vector<std::string> values;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    if (comma == pos) {
      return Status::Error(std::string(flag) +
                           ": empty item in comma-separated list '" +
                           std::string(text) + "'");
    }
    values.emplace_back(text.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return values;
}

SampleStats ComputeStats(std::span<const double> values) {
  SampleStats s;
  s.n = static_cast<int>(values.size());
  if (s.n == 0) return s;
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / s.n;
  if (s.n < 2) return s;
  double sq = 0;  // two-pass: no cancellation when the spread is tiny
  for (double v : values) sq += (v - s.mean) * (v - s.mean);
  s.stddev = std::sqrt(sq / (s.n - 1));
  return s;
}

StatusOr<std::vector<double>> MeasureRepetitions(
    int reps, const std::function<Status()>& warmup, int64_t tokens,
    const std::function<StatusOr<double>()>& timed_once) {
  if (reps <= 0) {
    return Status::Error("-r/--repetitions must be > 0, got " +
                         std::to_string(reps));
  }
  if (warmup) SKV_RETURN_IF_ERROR(warmup());
  std::vector<double> tps;  // [reps]
  for (int r = 0; r < reps; ++r) {
    SKV_ASSIGN_OR_RETURN(double seconds, timed_once());
    tps.push_back(static_cast<double>(tokens) / std::max(seconds, 1e-12));
  }
  return tps;
}

std::string BenchTest::Name() const {
  if (!is_decode()) return "pp" + std::to_string(n_prompt);
  std::string name = "tg" + std::to_string(n_gen);
  if (depth > 0) name += "@d" + std::to_string(depth);
  return name;
}

std::vector<BenchTest> PlanTests(std::span<const int64_t> prompts,
                                 std::span<const int64_t> gens,
                                 std::span<const int64_t> depths) {
  std::vector<BenchTest> tests;
  for (int64_t p : prompts) {
    if (p > 0) tests.push_back({.n_prompt = p});
  }
  for (int64_t n : gens) {
    if (n <= 0) continue;
    for (int64_t d : depths) tests.push_back({.n_gen = n, .depth = d});
  }
  return tests;
}

StatusOr<std::vector<BenchRow>> RunModelBench(
    const Model& model, const RuntimeContext& ctx, const BenchOptions& options,
    std::span<const int32_t> tokens,
    const std::function<void(const BenchRow&)>& on_row) {
  const GgufFile& file = model.file();
  const std::string quant = DominantTensorType(file);
  std::vector<BenchRow> rows;
  std::vector<float> logits;  // [n_vocab] of the last evaluated position
  for (const BenchTest& test : options.tests) {
    const int64_t needed = test.is_decode() ? test.depth + test.n_gen : test.n_prompt;
    if (needed > static_cast<int64_t>(tokens.size())) {
      return Status::Error("test " + test.Name() + " needs " +
                           std::to_string(needed) + " tokens, only " +
                           std::to_string(tokens.size()) + " given");
    }
    SessionOptions so;
    so.n_ctx = needed;
    so.n_batch = options.n_batch;
    so.kv_type = options.kv_type;
    so.trim_sliding_window = true;  // as llama.cpp's SWA cache: KV bytes are what is kept
    SKV_ASSIGN_OR_RETURN(Session session, Session::Create(model, so));
    // KV bytes before and after the timed decode: the decode reads their
    // average per token.
    int64_t kv_before = 0, kv_after = 0;
    // One run of the test with `prompt` prefill tokens (or `depth` context
    // tokens then `gen` decodes); returns the seconds of the timed part.
    auto run = [&](int64_t prompt, int64_t depth, int64_t gen) -> StatusOr<double> {
      session.Reset();
      if (!test.is_decode()) {
        const auto start = std::chrono::steady_clock::now();
        SKV_RETURN_IF_ERROR(session.Evaluate(tokens.first(prompt),
                                             /*all_logits=*/false, &logits));
        const double s = SecondsSince(start);
        kv_after = session.kv().live_bytes();
        return s;
      }
      if (depth > 0) {
        SKV_RETURN_IF_ERROR(session.Evaluate(tokens.first(depth),
                                             /*all_logits=*/false, &logits));
      }
      kv_before = session.kv().live_bytes();
      const auto start = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < gen; ++i) {
        SKV_RETURN_IF_ERROR(session.Evaluate(tokens.subspan(depth + i, 1),
                                             /*all_logits=*/false, &logits));
      }
      const double s = SecondsSince(start);
      kv_after = session.kv().live_bytes();
      return s;
    };
    auto once = [&]() { return run(test.n_prompt, test.depth, test.n_gen); };
    std::function<Status()> warmup;
    if (options.warmup) {
      warmup = [&]() -> Status {
        return run(std::min(test.n_prompt, kWarmupPromptTokens),
                   std::min(test.depth, kWarmupPromptTokens),
                   std::min(test.n_gen, kWarmupDecodeTokens))
            .status();
      };
    }
    const int64_t timed_tokens = test.is_decode() ? test.n_gen : test.n_prompt;
    SKV_ASSIGN_OR_RETURN(
        std::vector<double> tps,
        MeasureRepetitions(options.reps, warmup, timed_tokens, once));
    const SampleStats stats = ComputeStats(tps);

    BenchRow row;
    row.model_path = file.path();
    row.architecture = model.config().architecture;
    row.model_bytes = static_cast<int64_t>(file.file_size());
    row.weight_bytes = model.weight_bytes();
    row.quant_type = quant;
    row.test = test.Name();
    row.n_prompt = test.n_prompt;
    row.n_gen = test.n_gen;
    row.depth = test.depth;
    row.tps_mean = stats.mean;
    row.tps_stddev = stats.stddev;
    row.tps_samples = std::move(tps);
    row.reps = stats.n;
    row.threads = ctx.threads();
    row.simd_target = ActiveSimdTarget();
    row.prefill_gemm = GemmTypeName(PrefillGemm());
    if (row.simd_target != IntegerDotTarget()) {
      row.simd_target += std::string("/") + IntegerDotTarget();
    }
    row.numa_policy = std::string(NumaPolicyName(ctx.placement().policy));
    row.kv_type = GgmlTypeName(options.kv_type);
    row.numa_nodes = ctx.topology().n_nodes();
    row.pinned = ctx.pinned();
    row.peak_rss_bytes = PeakRssBytes();
    row.kv_bytes = kv_after;
    if (test.is_decode()) {
      row.bytes_per_token = static_cast<double>(model.weight_bytes()) +
                            0.5 * static_cast<double>(kv_before + kv_after);
    } else {
      row.prefill_gflop = FullPrefillFlops(model.config(), test.n_prompt).total() / 1e9;
    }
    if (on_row) on_row(row);
    rows.push_back(std::move(row));
  }
  return rows;
}

void ApplyBandwidth(double gb_per_s, std::span<BenchRow> rows) {
  for (BenchRow& row : rows) {
    row.bw_gbps = gb_per_s;
    row.bw_fraction = (gb_per_s > 0 && row.n_gen > 0)
                          ? row.bytes_per_token * row.tps_mean / (gb_per_s * 1e9)
                          : -1;
  }
}

void ApplyComputePeak(double gflop_per_s, std::span<BenchRow> rows) {
  for (BenchRow& row : rows) {
    row.fma_peak_gflops = gflop_per_s;
    row.compute_fraction =
        (gflop_per_s > 0 && row.n_prompt > 0 && row.prefill_gflop > 0)
            ? row.prefill_gflop * row.tps_mean / static_cast<double>(row.n_prompt) / gflop_per_s
            : -1;
  }
}

StatusOr<std::vector<int32_t>> BenchTokensFromText(const Model& model,
                                                   std::string_view text,
                                                   int64_t n) {
  if (text.empty()) text = kBuiltinText;
  const Tokenizer& tok = model.tokenizer();
  const std::vector<int32_t> first =
      tok.Encode(text, /*add_special=*/true, /*parse_special=*/false);
  const std::vector<int32_t> body =
      tok.Encode(text, /*add_special=*/false, /*parse_special=*/false);
  if (body.empty()) return Status::Error("benchmark text yields no tokens");
  std::vector<int32_t> ids = first;
  while (static_cast<int64_t>(ids.size()) < n) {
    ids.insert(ids.end(), body.begin(), body.end());
  }
  ids.resize(std::max<int64_t>(n, 0));
  return ids;
}

StatusOr<std::vector<int32_t>> BenchTokensFromList(std::string_view list,
                                                   std::string_view source,
                                                   int32_t n_vocab, int64_t n) {
  std::vector<int32_t> base;
  size_t pos = 0;
  auto is_sep = [](char c) {
    return c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r';
  };
  while (pos < list.size()) {
    if (is_sep(list[pos])) {
      ++pos;
      continue;
    }
    size_t end = pos;
    while (end < list.size() && !is_sep(list[end])) ++end;
    const std::string_view item = list.substr(pos, end - pos);
    int32_t id = 0;
    const auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (ec != std::errc() || p != item.data() + item.size() || id < 0 ||
        id >= n_vocab) {
      return Status::Error(std::string(source) + ": '" + std::string(item) +
                           "' is not a token id in [0, " +
                           std::to_string(n_vocab) + ")");
    }
    base.push_back(id);
    pos = end;
  }
  if (base.empty()) return Status::Error(std::string(source) + ": no token ids");
  std::vector<int32_t> ids;
  ids.reserve(std::max<int64_t>(n, 0));
  while (static_cast<int64_t>(ids.size()) < n) {
    ids.push_back(base[ids.size() % base.size()]);
  }
  return ids;
}

}  // namespace skv
