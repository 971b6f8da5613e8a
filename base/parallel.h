// The one place with OpenMP pragmas. Work is split into contiguous ranges so
// callers keep cache locality; results must not depend on the thread count,
// so callers never reduce across ranges in a thread-dependent order.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace skv {

// Number of worker threads the parallel helpers use.
inline int MaxThreads() { return omp_get_max_threads(); }
inline void SetThreads(int n) { omp_set_num_threads(std::max(1, n)); }

// Runs fn(thread_index, n_threads) once on every thread of one parallel
// region of MaxThreads() threads and returns how many ran: per-thread setup
// such as pinning a worker to a CPU. libgomp keeps the same pool threads for
// later regions of the same size (team member i is pool thread i), so such
// setup sticks. Not for use inside a parallel region.
template <typename Fn>
int OnEachThread(const Fn& fn) {
  int ran = 0;
#pragma omp parallel
  {
    fn(omp_get_thread_num(), omp_get_num_threads());
#pragma omp atomic
    ++ran;
  }
  return ran;
}

// Calls fn(i) for every i in [0, n), statically scheduled.
template <typename Fn>
void ParallelFor(int64_t n, const Fn& fn) {
  if (n <= 0) return;
  if (n == 1 || omp_in_parallel()) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) fn(i);
}

// Dynamic schedule for uneven work items (e.g. causal attention blocks).
template <typename Fn>
void ParallelForDynamic(int64_t n, const Fn& fn) {
  if (n <= 0) return;
  if (n == 1 || omp_in_parallel()) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < n; ++i) fn(i);
}

// Splits [0, n) into ranges of at least `grain` items, one call per range:
// fn(begin, end).
template <typename Fn>
void ParallelRanges(int64_t n, int64_t grain, const Fn& fn) {
  if (n <= 0) return;
  const int64_t threads = omp_in_parallel() ? 1 : MaxThreads();
  int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(threads * 4, n / std::max<int64_t>(grain, 1)));
  const int64_t step = (n + chunks - 1) / chunks;
  chunks = (n + step - 1) / step;
  ParallelForDynamic(chunks, [&](int64_t c) {
    const int64_t b = c * step;
    fn(b, std::min(n, b + step));
  });
}

}  // namespace skv
