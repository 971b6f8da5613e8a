#include "runtime/flops.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace skv {
namespace {

ModelConfig TinyConfig(int64_t sliding_window) {
  ModelConfig c;
  c.n_layers = 2;
  c.n_embd = 8;
  c.n_heads = 2;
  c.n_kv_heads = 1;
  c.head_dim = 4;
  c.head_dim_v = 4;
  c.n_ff = 16;
  c.n_vocab = 10;
  c.layers.resize(2);
  c.layers[1].sliding_window = sliding_window;
  return c;
}

TEST(PrefillFlops, CountsProjectionsAndCausalAttentionByHand) {
  const ModelConfig c = TinyConfig(0);
  const std::vector<int32_t> pos = {0, 1, 2, 3};
  const PrefillFlops f = LayerPrefillFlops(c, 0, pos.data(), 4);
  // Per token: q 8x8, k 8x4, v 8x4, o 8x8, gate/up/down 3 x 8x16 MACs.
  EXPECT_DOUBLE_EQ(f.linear, 2.0 * 4 * (64 + 32 + 32 + 64 + 384));
  // 1 + 2 + 3 + 4 visible keys, 2 heads, (4 + 4) MACs each.
  EXPECT_DOUBLE_EQ(f.attention, 2.0 * 10 * 2 * 8);
}

TEST(PrefillFlops, SlidingWindowAndPrunedPositionsSeeFewerKeys) {
  const ModelConfig c = TinyConfig(2);
  const std::vector<int32_t> pos = {0, 1, 2, 3};
  // Window 2: 1 + 2 + 2 + 2 keys.
  EXPECT_DOUBLE_EQ(LayerPrefillFlops(c, 1, pos.data(), 4).attention, 2.0 * 7 * 2 * 8);
  // A skeleton at positions 0, 5, 6: window 2 -> 1 + 1 + 2 keys.
  const std::vector<int32_t> skeleton = {0, 5, 6};
  EXPECT_DOUBLE_EQ(LayerPrefillFlops(c, 1, skeleton.data(), 3).attention,
                   2.0 * 4 * 2 * 8);
}

TEST(PrefillFlops, FullPrefillIsTheSumOverLayersPlusTheHead) {
  const ModelConfig c = TinyConfig(2);
  std::vector<int32_t> pos(5);
  std::iota(pos.begin(), pos.end(), 0);
  const PrefillFlops f = FullPrefillFlops(c, 5);
  const double want = LayerPrefillFlops(c, 0, pos.data(), 5).total() +
                      LayerPrefillFlops(c, 1, pos.data(), 5).total() + 2.0 * 8 * 10;
  EXPECT_DOUBLE_EQ(f.total(), want);
}

}  // namespace
}  // namespace skv
