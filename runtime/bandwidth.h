// Memory read-bandwidth probe: the ceiling that token-by-token decoding on a
// CPU runs into, since every generated token reads all weights and the live KV
// cache once. `structkv bench` divides each decode row's achieved traffic by
// this number.
#pragma once

#include <cstdint>

#include "base/status.h"

namespace skv {

struct BandwidthOptions {
  // Buffer size; must be much larger than the last-level cache for the
  // result to measure DRAM rather than cache (1 GiB by default).
  int64_t bytes = int64_t{1} << 30;
  int runs = 3;  // best of `runs` full passes
};

struct BandwidthResult {
  double gb_per_s = 0;  // best pass, 1e9 bytes per second
  int64_t bytes = 0;
  int runs = 0;
  uint64_t checksum = 0;  // keeps the loads observable; meaningless otherwise
};

// Reads the whole buffer with every worker thread of the parallel helpers
// (contiguous ranges, 64-bit loads into independent accumulators so the loop
// is load-bound, not add-latency-bound). Pages are first touched by the same
// threads so they land on the readers' NUMA nodes. Errors name --bw-bytes.
StatusOr<BandwidthResult> MeasureReadBandwidth(const BandwidthOptions& options);

}  // namespace skv
