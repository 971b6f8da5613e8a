// Prefill GEMM throughput, f32 vs bf16 vs int8 side by side (GFLOP/s, or
// GOP/s for int8: 2*T*N*K per iteration), at the thread count state.range(0):
//
//   build/bench/skv_kernel_bench --benchmark_filter='Gemm|PrefillMatMul'
//
// FMA% is the share of the f32 multiply-add peak (bench/peaks.h; BM_FmaPeak
// shows the same measurement) at the same thread count.
// BM_OneDnnGemm times oneDNN alone on ready operands (the instruction-level
// ceiling of each type on this CPU); BM_PrefillMatMul times a whole MatMul
// (activation rounding, dequantisation into panels, GEMM; for int8 the
// activation quantisation and the tiled integer GEMM), what prefill pays.
#include <atomic>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "base/parallel.h"
#include "bench/peaks.h"
#include "benchmark/benchmark.h"
#include "simd/fma_peak.h"
#include "simd/matmul.h"
#include "simd/onednn_gemm.h"
#include "simd/quant.h"

namespace skv {
namespace {

// GFLOP/s, and the share of the f32 FMA peak at the benchmark's thread count
// (int8 GEMMs count their integer multiply-adds: VNNI's ceiling is 2x f32's).
void SetFlops(benchmark::State& state, PeakShare& share, int64_t T, int64_t N, int64_t K) {
  const double flop = 2.0 * T * N * K;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flop * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  share.Flops(flop, static_cast<int>(state.range(0)));
}

// The ceiling itself: FmaChains on every thread (what MeasureFmaPeak times).
void BM_FmaPeak(benchmark::State& state) {
  const int saved = MaxThreads();
  SetThreads(static_cast<int>(state.range(0)));
  constexpr int64_t kSteps = int64_t{1} << 20;
  std::atomic<int64_t> flops{0};
  for (auto _ : state) {
    OnEachThread([&](int, int) {
      int64_t f = 0;
      benchmark::DoNotOptimize(FmaChains(0.999f, 0.001f, kSteps, &f));
      flops.fetch_add(f, std::memory_order_relaxed);
    });
  }
  SetThreads(saved);
  state.counters["GFLOP/s"] = benchmark::Counter(static_cast<double>(flops.load()) * 1e-9,
                                                 benchmark::Counter::kIsRate);
  state.SetLabel(ActiveSimdTarget());
}
BENCHMARK(BM_FmaPeak)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_OneDnnGemm(benchmark::State& state, GemmType type, int64_t T,
                   int64_t N, int64_t K) {
  const int saved = MaxThreads();
  SetThreads(static_cast<int>(state.range(0)));
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x(T * K), w(N * K), y(T * N);  // [T][K], [N][K], [T][N]
  for (float& v : x) v = normal(rng);
  for (float& v : w) v = normal(rng);
  std::vector<uint16_t> xb(T * K), wb(N * K);  // bf16 copies of x and w
  F32ToBF16(x.data(), xb.data(), T * K);
  F32ToBF16(w.data(), wb.data(), N * K);
  const GemmBF16Shape shape{T, N, K, K, K, N};
  if (type == GemmType::kBF16 && !CanGemmBF16(shape)) {
    SetThreads(saved);
    state.SkipWithError("no bf16 matmul on this CPU");
    return;
  }
  PeakShare share(state);
  for (auto _ : state) {
    if (type == GemmType::kBF16) {
      GemmBF16(shape, xb.data(), wb.data(), y.data());
    } else {
      GemmF32(x.data(), K, T, w.data(), K, N, K, y.data(), N);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetThreads(saved);
  SetFlops(state, share, T, N, K);
  state.SetLabel(GemmTypeName(type));
}

void BM_PrefillMatMul(benchmark::State& state, GgmlType wtype, GemmType type,
                      int64_t T, int64_t N, int64_t K) {
  const int saved = MaxThreads();
  SetThreads(static_cast<int>(state.range(0)));
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.f, 1.f);
  // Weights: a row of random f32 values quantised by rounding through f16
  // for F16; for block formats random bytes with a small fp16 scale at both
  // ends of each block (where every format keeps one), as quant_bench does.
  const int64_t row_bytes = GgmlRowBytes(wtype, K);
  std::vector<uint8_t> w(N * row_bytes);  // [N][row_bytes]
  if (wtype == GgmlType::kF16) {
    for (int64_t i = 0; i < N * K; ++i) {
      const uint16_t h = F32ToF16Bits(normal(rng));
      std::memcpy(&w[2 * i], &h, 2);
    }
  } else {
    const GgmlTypeTraits& t = GetGgmlType(wtype);
    for (uint8_t& b : w) b = static_cast<uint8_t>(rng() & 0x3B);
    const uint16_t d = F32ToF16Bits(0.01f);
    for (size_t off = 0; off + t.type_size <= w.size(); off += t.type_size) {
      std::memcpy(&w[off], &d, 2);
      std::memcpy(&w[off + t.type_size - 2], &d, 2);
    }
  }
  const MatrixRef m{w.data(), wtype, N, K, row_bytes};
  std::vector<float> x(T * K), y(T * N);  // [T][K], [T][N]
  for (float& v : x) v = normal(rng);
  PeakShare share(state);
  for (auto _ : state) {
    MatMul(m, x.data(), K, T, y.data(), N, type);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetThreads(saved);
  SetFlops(state, share, T, N, K);
  state.SetLabel(std::string(GgmlTypeName(wtype)) + "/" + GemmTypeName(type));
}

// TinyLlama's attention (2048 x 2048) and FFN up (5632 x 2048) shapes at a
// 512-token prefill batch.
#define SKV_GEMM_BENCH(name, T, N, K)                                         \
  BENCHMARK_CAPTURE(BM_OneDnnGemm, name##_f32, GemmType::kF32, T, N, K)       \
      ->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);         \
  BENCHMARK_CAPTURE(BM_OneDnnGemm, name##_bf16, GemmType::kBF16, T, N, K)     \
      ->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond)

SKV_GEMM_BENCH(512x2048x2048, 512, 2048, 2048);
SKV_GEMM_BENCH(512x5632x2048, 512, 5632, 2048);

#define SKV_MATMUL_BENCH(name, wtype, T, N, K)                                 \
  BENCHMARK_CAPTURE(BM_PrefillMatMul, name##_f32, wtype, GemmType::kF32, T, N, \
                    K)                                                         \
      ->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);                  \
  BENCHMARK_CAPTURE(BM_PrefillMatMul, name##_bf16, wtype, GemmType::kBF16, T,  \
                    N, K)                                                      \
      ->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);                  \
  BENCHMARK_CAPTURE(BM_PrefillMatMul, name##_int8, wtype, GemmType::kInt8, T,  \
                    N, K)                                                      \
      ->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond)

SKV_MATMUL_BENCH(f16_512x5632x2048, GgmlType::kF16, 512, 5632, 2048);
SKV_MATMUL_BENCH(q4_K_512x5632x2048, GgmlType::kQ4_K, 512, 5632, 2048);
SKV_MATMUL_BENCH(q4_K_512x2048x2048, GgmlType::kQ4_K, 512, 2048, 2048);
SKV_MATMUL_BENCH(q6_K_512x2048x2048, GgmlType::kQ6_K, 512, 2048, 2048);
SKV_MATMUL_BENCH(q8_0_512x5632x2048, GgmlType::kQ8_0, 512, 5632, 2048);
SKV_MATMUL_BENCH(q8_0_512x2048x2048, GgmlType::kQ8_0, 512, 2048, 2048);
SKV_MATMUL_BENCH(q4_0_512x2048x2048, GgmlType::kQ4_0, 512, 2048, 2048);

}  // namespace
}  // namespace skv
