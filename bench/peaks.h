// The machine's ceilings behind the kernel benchmarks' "% of peak" counters:
// the f32 FMA rate (simd/fma_peak.h) for compute-bound kernels and the read
// bandwidth (runtime/bandwidth.h) for streaming ones, each measured once per
// thread count and process. A benchmark wraps its timed loop in a PeakShare:
//
//   PeakShare share(state);
//   for (auto _ : state) { ... }
//   share.Flops(flop_per_iteration, threads);   // "FMA%"
//   share.Bytes(bytes_per_iteration, threads);  // "BW%" (> 100: cache-resident)
#pragma once

#include <algorithm>
#include <chrono>
#include <map>

#include "base/parallel.h"
#include "benchmark/benchmark.h"
#include "runtime/bandwidth.h"
#include "simd/fma_peak.h"

namespace skv {

// Runs `measure` with `threads` worker threads, once per thread count.
template <typename Measure>
double MeasuredOnce(std::map<int, double>& cache, int threads, const Measure& measure) {
  const auto it = cache.find(threads);
  if (it != cache.end()) return it->second;
  const int saved = MaxThreads();
  SetThreads(threads);
  const double value = measure();
  SetThreads(saved);
  return cache[threads] = value;
}

inline double FmaPeakGflops(int threads) {
  static std::map<int, double> cache;
  return MeasuredOnce(cache, threads, [] { return MeasureFmaPeak(3).gflop_per_s; });
}

// 0 where the probe cannot allocate its buffer.
inline double ReadBandwidthGbps(int threads) {
  static std::map<int, double> cache;
  return MeasuredOnce(cache, threads, [] {
    const StatusOr<BandwidthResult> bw = MeasureReadBandwidth(BandwidthOptions{});
    return bw.ok() ? bw->gb_per_s : 0.0;
  });
}

class PeakShare {
 public:
  explicit PeakShare(benchmark::State& state)
      : state_(state), start_(std::chrono::steady_clock::now()) {}

  void Flops(double flop_per_iteration, int threads) {
    Set("FMA%", flop_per_iteration / 1e9, FmaPeakGflops(threads));
  }
  void Bytes(double bytes_per_iteration, int threads) {
    Set("BW%", bytes_per_iteration / 1e9, ReadBandwidthGbps(threads));
  }

 private:
  // The loop's rate of `per_iteration` (in giga-units) as a share of `peak`.
  void Set(const char* name, double per_iteration, double peak) {
    const double seconds = std::chrono::duration<double>(
                               std::chrono::steady_clock::now() - start_).count();
    const double rate =
        per_iteration * static_cast<double>(state_.iterations()) / std::max(seconds, 1e-12);
    state_.counters[name] = peak > 0 ? 100.0 * rate / peak : 0.0;
  }

  benchmark::State& state_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace skv
