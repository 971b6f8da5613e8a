// The f32 multiply-add ceiling of this CPU on the dispatched Highway target:
// the number that compute-bound work (prefill GEMMs, prefill attention) is
// judged against, as the read-bandwidth probe (runtime/bandwidth.h) is for
// decode. `structkv bench` reports each prefill row's achieved GFLOP/s as a
// fraction of it, and the kernel benchmarks (bench/gemm_bench.cc) print it
// beside the GEMMs.
//
// Measured, not computed from a datasheet: clocks under AVX-512 load, the
// number of FMA ports and whether the VM gives us whole cores are all
// properties of the machine on the day.
#pragma once

#include <cstdint>
#include <string>

namespace skv {

// Independent accumulators per thread: enough to hide a 4-cycle FMA latency
// on two ports (8 needed) with room to spare, few enough to stay in
// registers on 16-register targets (12 chains + 2 operands).
inline constexpr int64_t kFmaChains = 12;

// Runs kFmaChains independent vector recurrences acc = acc * a + b for
// `iterations` steps on the dispatched target (one vector multiply-add per
// chain per step, no memory traffic). Chain c starts at c + 1 in every lane.
// Returns the sum over every lane of every chain, which keeps the work
// observable; *flops receives the floating-point operations done
// (2 * lanes * kFmaChains * iterations).
float FmaChains(float a, float b, int64_t iterations, int64_t* flops);

// Scalar reference of FmaChains for `lanes` lanes (std::fma per step).
float FmaChainsRef(float a, float b, int64_t iterations, int64_t lanes);

struct FmaPeakResult {
  double gflop_per_s = 0;  // best run, all threads together
  int threads = 0;
  std::string target;      // Highway target the chains ran on
};

// Runs FmaChains on every worker thread of the parallel helpers at once,
// `runs` times, and keeps the fastest run (about 40 ms each on AVX-512).
FmaPeakResult MeasureFmaPeak(int runs = 3);

}  // namespace skv
