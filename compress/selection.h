// The selection shared by score-based methods (method.md section 0): pool
// along the sequence, sum each KV head's query-head group, keep the top
// entries of the prefix per KV head plus the observation window, sorted.
#pragma once

#include <cstdint>
#include <vector>

#include "compress/method.h"

namespace skv {

// Sum of the group's query heads per KV head after optional 1-D pooling along
// the prefix [0, n - window): out [n_kv_heads][n]. Window entries get +inf so
// they are always kept.
std::vector<float> KvHeadScores(const LayerScores& layer, int64_t window,
                                PoolKind pool, int64_t kernel);

// For each KV head, the `keep` highest-scoring entries of scores [G][n]
// (ties: lower index first), ascending. keep <= n.
LayerKeep TopEntriesPerHead(const std::vector<float>& scores, int64_t n_kv_heads,
                            int64_t n, int64_t keep);

// One score per entry for the whole layer: KvHeadScores summed over the KV
// heads, divided by the window size (StructKV's local saliency S_l).
std::vector<float> TokenScores(const LayerScores& layer, int64_t window,
                               PoolKind pool, int64_t kernel);

// The top `keep` entries of scores [n] (ties: lower index), ascending.
std::vector<int32_t> TopEntries(const std::vector<float>& scores, int64_t keep);

// SnapKV's rule, which FastKV and StructKV apply to every layer: each KV head
// keeps budget(N) entries (capped by the layer's n) by its pooled window
// saliency, the window included.
LayerKeep SelectByWindowSaliency(const LayerScores& layer,
                                 const MethodOptions& options);

// Structural propagation: the layer after which the residual stream is cut
// (--pivot, or FastKV's depth-scaled layer), and how many tokens continue
// (floor(struct_rate * N), at least the window, at most what the layer has).
int64_t PivotLayer(const MethodOptions& options, int64_t n_layers);
int64_t SkeletonSize(const MethodOptions& options, const LayerScores& layer,
                     int64_t window);

// The same entries for every KV head.
LayerKeep SameForAllHeads(const std::vector<int32_t>& entries, int64_t n_kv_heads);

}  // namespace skv
