// Attention kernel throughput: causal prefill (GFLOP/s, counting the
// 2 * 2 * head_dim flops of QK and PV per visible (query, head, key) pair)
// and single-token decode (GB/s of f16 K and V read) at depth 4096, with the
// shares of the machine's FMA peak and read bandwidth (bench/peaks.h).
// Shape: 8 query heads, 2 KV heads, head_dim 64.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "bench/peaks.h"
#include "simd/attention.h"

namespace skv {
namespace {

constexpr int64_t kHeads = 8, kKvHeads = 2, kHeadDim = 64;

struct Inputs {
  std::vector<float> q;        // [n_q][kHeads][kHeadDim]
  std::vector<int32_t> q_pos;  // [n_q]
  std::vector<uint16_t> k, v;  // [kKvHeads][n][kHeadDim] f16
  std::vector<int32_t> pos;    // [kKvHeads][n]
  std::vector<float> out;      // [n_q][kHeads][kHeadDim]
  KvView kv;

  Inputs(int64_t n_q, int64_t n) {
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    q.resize(n_q * kHeads * kHeadDim);
    for (float& x : q) x = dist(rng);
    for (int64_t t = 0; t < n_q; ++t) q_pos.push_back(int32_t(n - n_q + t));
    k.resize(kKvHeads * n * kHeadDim);
    v.resize(k.size());
    // Halves of magnitude in [0.5, 1): exponent field 14, random mantissa.
    for (auto& x : k) x = uint16_t(((rng() & 1) << 15) | (14 << 10) | (rng() & 0x3ff));
    for (auto& x : v) x = uint16_t(((rng() & 1) << 15) | (14 << 10) | (rng() & 0x3ff));
    for (int64_t g = 0; g < kKvHeads; ++g) {
      for (int64_t j = 0; j < n; ++j) pos.push_back(int32_t(j));
    }
    out.resize(q.size());
    kv = {k.data(), v.data(), pos.data(), n, n};
  }

  void Run(int64_t n_q, const WindowSaliency* saliency = nullptr) {
    Attention({kHeads, kKvHeads, kHeadDim}, {}, 1.f / std::sqrt(float(kHeadDim)),
              q.data(), q_pos.data(), n_q, kv, out.data(), saliency);
  }
};

void BM_AttentionPrefill(benchmark::State& state) {
  const int64_t n = state.range(0);
  Inputs in(n, n);
  PeakShare share(state);
  for (auto _ : state) {
    in.Run(n);
    benchmark::DoNotOptimize(in.out.data());
  }
  const double pairs = double(kHeads) * n * (n + 1) / 2;  // causal
  share.Flops(4.0 * kHeadDim * pairs, MaxThreads());
  state.counters["GFLOP/s"] = benchmark::Counter(
      4.0 * kHeadDim * pairs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_AttentionPrefill)->Arg(512)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same prefill emitting what StructKV asks of every full-attention layer
// during prefill: the window saliency of the last 8 queries and their rows
// (pivot metrics). Its time against BM_AttentionPrefill at the same length is
// the kernel's share of StructKV's scoring overhead.
void BM_AttentionPrefillSaliency(benchmark::State& state) {
  const int64_t n = state.range(0), window = 8;
  Inputs in(n, n);
  std::vector<float> scores(kHeads * n);         // [kHeads][n]
  std::vector<float> rows(kHeads * window * n);  // [kHeads][window][n]
  WindowSaliency saliency{window, scores.data(), false, rows.data()};
  PeakShare share(state);
  for (auto _ : state) {
    in.Run(n, &saliency);
    benchmark::DoNotOptimize(scores.data());
  }
  const double pairs = double(kHeads) * n * (n + 1) / 2;
  share.Flops(4.0 * kHeadDim * pairs, MaxThreads());
  state.counters["GFLOP/s"] = benchmark::Counter(
      4.0 * kHeadDim * pairs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_AttentionPrefillSaliency)->Arg(512)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_AttentionDecode(benchmark::State& state) {
  const int64_t depth = state.range(0);
  Inputs in(1, depth);
  PeakShare share(state);
  for (auto _ : state) {
    in.Run(1);
    benchmark::DoNotOptimize(in.out.data());
  }
  const double bytes = 2.0 * kKvHeads * depth * kHeadDim * sizeof(uint16_t);
  share.Bytes(bytes, MaxThreads());
  state.counters["GB/s"] = benchmark::Counter(
      bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_AttentionDecode)->Arg(4096)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Decode with Gemma 3 270M's global-layer shape: 4 query heads on one KV head,
// head_dim 256. One KV head leaves one work item per call unless the kernel
// splits the keys (attention.cc, AttendSplitKeys).
void BM_AttentionDecodeOneKvHead(benchmark::State& state) {
  const int64_t n = state.range(0), H = 4, D = 256;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> q(H * D), out(H * D);
  for (float& x : q) x = dist(rng);
  std::vector<uint16_t> k(n * D), v(n * D);  // [1][n][D] f16
  for (auto& x : k) x = uint16_t(((rng() & 1) << 15) | (14 << 10) | (rng() & 0x3ff));
  for (auto& x : v) x = uint16_t(((rng() & 1) << 15) | (14 << 10) | (rng() & 0x3ff));
  std::vector<int32_t> pos(n);
  for (int64_t j = 0; j < n; ++j) pos[j] = int32_t(j);
  const int32_t q_pos = int32_t(n - 1);
  const KvView kv{k.data(), v.data(), pos.data(), n, n};
  PeakShare share(state);
  for (auto _ : state) {
    Attention({H, 1, D}, {}, 1.f / 16.f, q.data(), &q_pos, 1, kv, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  share.Bytes(2.0 * n * D * sizeof(uint16_t), MaxThreads());
  state.counters["GB/s"] = benchmark::Counter(
      2.0 * n * D * sizeof(uint16_t) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_AttentionDecodeOneKvHead)->Arg(16384)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
}  // namespace skv
