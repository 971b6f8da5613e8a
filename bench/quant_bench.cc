// MatVec (decode GEMV) throughput on GGML-quantised weights, reported as
// weight bytes streamed per second: decode is bandwidth-bound, so GB/s against
// the machine's memory bandwidth is the figure of merit (BW%: the share of
// the read-bandwidth probe at the same thread count, bench/peaks.h; above 100
// for matrices that stay in the caches).
//
//   build/bench/skv_kernel_bench --benchmark_filter=MatVec
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "bench/peaks.h"
#include "benchmark/benchmark.h"
#include "simd/ggml_types.h"
#include "base/parallel.h"
#include "simd/activation_round.h"
#include "simd/quant.h"
#include "simd/quant_dot.h"

namespace skv {
namespace {

// Random weights of `type` with finite fp16 scales (values are irrelevant for
// speed, but nan/inf would be unrepresentative of real models).
std::vector<uint8_t> MakeWeights(GgmlType type, int64_t rows, int64_t n) {
  const GgmlTypeTraits& t = GetGgmlType(type);
  std::vector<uint8_t> w(static_cast<size_t>(rows * GgmlRowBytes(type, n)));  // [rows][row_bytes]
  std::mt19937 rng(1);
  for (uint8_t& b : w) b = static_cast<uint8_t>(rng() & 0x3B);  // finite halves
  if (t.block_size > 1) {
    const uint16_t d = F32ToF16Bits(0.01f);
    for (size_t off = 0; off + t.type_size <= w.size(); off += t.type_size) {
      // Every block format keeps an fp16 scale either first or last.
      std::memcpy(&w[off], &d, 2);
      std::memcpy(&w[off + t.type_size - 2], &d, 2);
    }
  }
  return w;
}

void BM_MatVec(benchmark::State& state, GgmlType type, int64_t rows, int64_t n) {
  const std::vector<uint8_t> w = MakeWeights(type, rows, n);
  std::vector<float> x(static_cast<size_t>(n), 0.5f);  // [n]
  std::vector<float> y(static_cast<size_t>(rows));     // [rows]
  const int64_t row_bytes = GgmlRowBytes(type, n);
  PeakShare share(state);
  for (auto _ : state) {
    MatVec(type, w.data(), row_bytes, x.data(), n, y.data(), rows);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  share.Bytes(static_cast<double>(w.size()), MaxThreads());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.size()));
  state.SetLabel(ActiveSimdTarget());
}

// Square layer-sized matrices (fit in L2/L3 on big machines) and the
// embedding-shaped logits GEMV (262144 rows; streams from DRAM). Gemma 3's
// hidden size 640 is not a multiple of 256, so K-quants use 768 there.
BENCHMARK_CAPTURE(BM_MatVec, q8_0_2048x2048, GgmlType::kQ8_0, 2048, 2048)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatVec, q4_K_2048x2048, GgmlType::kQ4_K, 2048, 2048)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatVec, q6_K_2048x2048, GgmlType::kQ6_K, 2048, 2048)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatVec, q5_0_2048x2048, GgmlType::kQ5_0, 2048, 2048)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatVec, f16_2048x2048, GgmlType::kF16, 2048, 2048)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatVec, q8_0_262144x640, GgmlType::kQ8_0, 262144, 640)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatVec, f16_262144x640, GgmlType::kF16, 262144, 640)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatVec, q4_K_262144x768, GgmlType::kQ4_K, 262144, 768)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatVec, q6_K_262144x768, GgmlType::kQ6_K, 262144, 768)->UseRealTime();

// Decode GEMV float path vs integer path, side by side on the same weights
// and thread count (state.range(0)). The float path includes the activation
// rounding MatMul does before it; the integer path includes the activation
// quantisation, so both are what one decode MatMul costs.
//
//   build/bench/skv_kernel_bench --benchmark_filter=Decode
void BM_DecodeGemv(benchmark::State& state, GgmlType type, int64_t rows,
                   int64_t n, bool integer) {
  const int saved = MaxThreads();
  SetThreads(static_cast<int>(state.range(0)));
  const std::vector<uint8_t> w = MakeWeights(type, rows, n);
  std::vector<float> x(static_cast<size_t>(n));   // [n]
  std::vector<float> xr(static_cast<size_t>(n));  // [n]
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (float& v : x) v = normal(rng);
  std::vector<float> y(static_cast<size_t>(rows));  // [rows]
  const int64_t row_bytes = GgmlRowBytes(type, n);
  QuantizedActivations xq;
  PeakShare share(state);
  for (auto _ : state) {
    if (integer) {
      QuantizeActivations(type, x.data(), n, &xq);
      MatVecQ8(type, w.data(), row_bytes, xq, y.data(), rows);
    } else {
      RoundActivations(type, x.data(), xr.data(), n);
      MatVec(type, w.data(), row_bytes, xr.data(), n, y.data(), rows);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  share.Bytes(static_cast<double>(w.size()), static_cast<int>(state.range(0)));
  SetThreads(saved);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.size()));
  state.SetLabel(integer ? IntegerDotTarget() : ActiveSimdTarget());
}

#define SKV_DECODE_BENCH(name, type, rows, n)                                \
  BENCHMARK_CAPTURE(BM_DecodeGemv, name##_float, type, rows, n, false)       \
      ->Arg(1)->Arg(2)->UseRealTime();                                       \
  BENCHMARK_CAPTURE(BM_DecodeGemv, name##_int8, type, rows, n, true)         \
      ->Arg(1)->Arg(2)->UseRealTime()

SKV_DECODE_BENCH(q8_0_262144x640, GgmlType::kQ8_0, 262144, 640);
SKV_DECODE_BENCH(q4_K_2048x2048, GgmlType::kQ4_K, 2048, 2048);
SKV_DECODE_BENCH(q6_K_2048x2048, GgmlType::kQ6_K, 2048, 2048);
SKV_DECODE_BENCH(q5_0_2048x640, GgmlType::kQ5_0, 2048, 640);
SKV_DECODE_BENCH(q4_0_2048x2048, GgmlType::kQ4_0, 2048, 2048);
SKV_DECODE_BENCH(q5_K_2048x2048, GgmlType::kQ5_K, 2048, 2048);
SKV_DECODE_BENCH(q8_0_2048x2048, GgmlType::kQ8_0, 2048, 2048);
// DRAM-sized K-quant matrices (a vocabulary projection): streaming, not L3.
SKV_DECODE_BENCH(q4_K_262144x768, GgmlType::kQ4_K, 262144, 768);
SKV_DECODE_BENCH(q6_K_262144x768, GgmlType::kQ6_K, 262144, 768);
// DRAM-sized TinyLlama shapes: attention / gate rows of 2048, ffn_down's
// rows of 5632 (a matrix's worth of each, stacked past the L3).
SKV_DECODE_BENCH(q4_K_65536x2048, GgmlType::kQ4_K, 65536, 2048);
SKV_DECODE_BENCH(q4_K_16384x5632, GgmlType::kQ4_K, 16384, 5632);

}  // namespace
}  // namespace skv
