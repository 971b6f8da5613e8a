// FmaChains with Highway (simd/fma_peak.h); its scalar reference and the
// multi-threaded measurement follow in the HWY_ONCE part.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/fma_peak.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>

#include "base/parallel.h"
#include "simd/fma_peak.h"
#include "simd/quant.h"

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

float FmaChainsImpl(float a, float b, int64_t iterations, int64_t* flops) {
  static_assert(kFmaChains == 12, "the unrolled chains below");
  const hn::ScalableTag<float> d;
  const auto va = hn::Set(d, a), vb = hn::Set(d, b);
  auto c0 = hn::Set(d, 1.f), c1 = hn::Set(d, 2.f), c2 = hn::Set(d, 3.f);
  auto c3 = hn::Set(d, 4.f), c4 = hn::Set(d, 5.f), c5 = hn::Set(d, 6.f);
  auto c6 = hn::Set(d, 7.f), c7 = hn::Set(d, 8.f), c8 = hn::Set(d, 9.f);
  auto c9 = hn::Set(d, 10.f), c10 = hn::Set(d, 11.f), c11 = hn::Set(d, 12.f);
  for (int64_t i = 0; i < iterations; ++i) {
    c0 = hn::MulAdd(c0, va, vb);
    c1 = hn::MulAdd(c1, va, vb);
    c2 = hn::MulAdd(c2, va, vb);
    c3 = hn::MulAdd(c3, va, vb);
    c4 = hn::MulAdd(c4, va, vb);
    c5 = hn::MulAdd(c5, va, vb);
    c6 = hn::MulAdd(c6, va, vb);
    c7 = hn::MulAdd(c7, va, vb);
    c8 = hn::MulAdd(c8, va, vb);
    c9 = hn::MulAdd(c9, va, vb);
    c10 = hn::MulAdd(c10, va, vb);
    c11 = hn::MulAdd(c11, va, vb);
  }
  // Chains are summed in order (c0 first), as the reference does.
  const auto sum = ((((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7))) +
                    ((c8 + c9) + (c10 + c11)));
  *flops = 2 * static_cast<int64_t>(hn::Lanes(d)) * kFmaChains * iterations;
  return hn::GetLane(hn::SumOfLanes(d, sum));
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace skv {

HWY_EXPORT(FmaChainsImpl);

float FmaChains(float a, float b, int64_t iterations, int64_t* flops) {
  return HWY_DYNAMIC_DISPATCH(FmaChainsImpl)(a, b, iterations, flops);
}

float FmaChainsRef(float a, float b, int64_t iterations, int64_t lanes) {
  float chains[kFmaChains];
  for (int64_t c = 0; c < kFmaChains; ++c) {
    float x = static_cast<float>(c + 1);
    for (int64_t i = 0; i < iterations; ++i) x = std::fma(x, a, b);
    chains[c] = x;
  }
  const float sum = ((((chains[0] + chains[1]) + (chains[2] + chains[3])) +
                      ((chains[4] + chains[5]) + (chains[6] + chains[7]))) +
                     ((chains[8] + chains[9]) + (chains[10] + chains[11])));
  return sum * static_cast<float>(lanes);
}

FmaPeakResult MeasureFmaPeak(int runs) {
  // A contracting recurrence (fixed point b / (1 - a) = 1): values stay
  // normal however long it runs, so no denormal slow path can creep in.
  constexpr float kA = 0.999f, kB = 0.001f;
  // 16M steps of 12 chains: about 40 ms per run on a 2-port AVX-512 core.
  constexpr int64_t kIterations = int64_t{1} << 24;
  FmaPeakResult result;
  result.target = ActiveSimdTarget();
  for (int r = 0; r < std::max(1, runs); ++r) {
    std::atomic<int64_t> total_flops{0};
    std::atomic<int> threads{0};
    std::atomic<uint32_t> sink{0};
    const auto start = std::chrono::steady_clock::now();
    OnEachThread([&](int, int) {
      int64_t flops = 0;
      const float s = FmaChains(kA, kB, kIterations, &flops);
      total_flops.fetch_add(flops, std::memory_order_relaxed);
      threads.fetch_add(1, std::memory_order_relaxed);
      sink.fetch_xor(static_cast<uint32_t>(s), std::memory_order_relaxed);
    });
    const double s = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start).count();
    const double gflops = static_cast<double>(total_flops.load()) / std::max(s, 1e-12) / 1e9;
    if (gflops > result.gflop_per_s) {
      result.gflop_per_s = gflops;
      result.threads = threads.load();
    }
  }
  return result;
}

}  // namespace skv
#endif  // HWY_ONCE
