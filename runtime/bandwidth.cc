#include "runtime/bandwidth.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#include "base/parallel.h"

namespace skv {
namespace {

struct FreeDeleter {
  void operator()(uint64_t* p) const { std::free(p); }
};

// Sum of words [begin, end). Eight independent accumulators let the compiler
// keep several vector loads in flight, and a software prefetch 2 KiB ahead
// (one per 64-byte line) keeps more lines in flight than the hardware
// prefetchers do alone, as the decode GEMVs do (simd/quant_dot_x86-inl.h):
// without it the probe read less than the GEMVs stream. The sum is a sink.
uint64_t SumRange(const uint64_t* data, int64_t begin, int64_t end) {
  uint64_t acc[8] = {};
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    __builtin_prefetch(data + i + 256);
    for (int j = 0; j < 8; ++j) acc[j] += data[i + j];
  }
  for (; i < end; ++i) acc[0] += data[i];
  uint64_t total = 0;
  for (uint64_t a : acc) total += a;
  return total;
}

}  // namespace

StatusOr<BandwidthResult> MeasureReadBandwidth(const BandwidthOptions& options) {
  if (options.bytes < 4096) {
    return Status::Error("--bw-bytes must be >= 4096, got " +
                         std::to_string(options.bytes));
  }
  if (options.runs <= 0) {
    return Status::Error("bandwidth runs must be > 0, got " +
                         std::to_string(options.runs));
  }
  const int64_t words = options.bytes / 8;
  const size_t alloc = static_cast<size_t>((words * 8 + 4095) / 4096 * 4096);
  std::unique_ptr<uint64_t, FreeDeleter> buffer(  // [words]
      static_cast<uint64_t*>(std::aligned_alloc(4096, alloc)));
  if (!buffer) {
    return Status::Error("--bw-bytes: cannot allocate " +
                         std::to_string(options.bytes) + " bytes");
  }
  uint64_t* data = buffer.get();
  // Grain of 1 MiB: enough ranges to balance threads, few enough that the
  // per-range overhead is invisible.
  constexpr int64_t kGrain = (int64_t{1} << 20) / 8;
  ParallelRanges(words, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) data[i] = static_cast<uint64_t>(i);
  });

  BandwidthResult result;
  result.bytes = words * 8;
  result.runs = options.runs;
  double best_seconds = 0;
  for (int r = 0; r < options.runs; ++r) {
    std::atomic<uint64_t> sink{0};
    const auto start = std::chrono::steady_clock::now();
    ParallelRanges(words, kGrain, [&](int64_t b, int64_t e) {
      sink.fetch_xor(SumRange(data, b, e), std::memory_order_relaxed);
    });
    const double s = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start).count();
    result.checksum ^= sink.load();
    if (r == 0 || s < best_seconds) best_seconds = s;
  }
  result.gb_per_s =
      static_cast<double>(result.bytes) / std::max(best_seconds, 1e-12) / 1e9;
  return result;
}

}  // namespace skv
