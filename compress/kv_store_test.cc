#include "compress/kv_store.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "simd/quant.h"

namespace skv {
namespace {

// k[t][g][d] = t * 8 + g * 2 + (d % 4) / 4 (exact in f16); v = -k.
void MakeBatch(int64_t t0, int64_t T, int64_t G, int64_t D,
               std::vector<float>* k, std::vector<float>* v,
               std::vector<int32_t>* pos) {
  k->resize(T * G * D);
  v->resize(T * G * D);
  pos->resize(T);
  for (int64_t t = 0; t < T; ++t) {
    (*pos)[t] = static_cast<int32_t>(t0 + t);
    for (int64_t g = 0; g < G; ++g) {
      for (int64_t d = 0; d < D; ++d) {
        const float x = static_cast<float>((t0 + t) * 8 + g * 2) + (d % 4) / 4.f;
        (*k)[(t * G + g) * D + d] = x;
        (*v)[(t * G + g) * D + d] = -x;
      }
    }
  }
}

TEST(LayerKv, AppendGrowsAndKeepsEntriesPerHead) {
  const int64_t G = 3, D = 16;
  LayerKv kv(G, D, D);
  kv.Reserve(4);
  std::vector<float> k, v;
  std::vector<int32_t> pos;
  // Three appends: the second and third force re-layouts.
  int64_t t0 = 0;
  for (int64_t T : {3, 5, 9}) {
    MakeBatch(t0, T, G, D, &k, &v, &pos);
    kv.Append(k.data(), v.data(), pos.data(), T);
    t0 += T;
  }
  ASSERT_EQ(kv.length(), 17);
  ASSERT_GE(kv.capacity(), 17);
  const KvView view = kv.View();
  ASSERT_EQ(view.n, 17);
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t j = 0; j < view.n; ++j) {
      const int64_t slot = g * view.head_stride + j;
      EXPECT_EQ(view.pos[slot], j);
      for (int64_t d = 0; d < D; ++d) {
        const float want = static_cast<float>(j * 8 + g * 2) + (d % 4) / 4.f;
        ASSERT_EQ(F16BitsToF32(view.k[slot * D + d]), want) << g << " " << j;
        ASSERT_EQ(F16BitsToF32(view.v[slot * D + d]), -want);
      }
    }
  }
}

TEST(KvStore, BytesCountLiveEntries) {
  KvStore store(2, 2, 8, 8);
  EXPECT_EQ(store.live_bytes(), 0);
  store.Reserve(10);
  std::vector<float> k, v;
  std::vector<int32_t> pos;
  MakeBatch(0, 4, 2, 8, &k, &v, &pos);
  store.layer(1).Append(k.data(), v.data(), pos.data(), 4);
  // 4 entries x 2 heads x (8 + 8 halves + 1 position) in one layer.
  EXPECT_EQ(store.live_bytes(), 4 * 2 * (16 * 2 + 4));
  EXPECT_EQ(store.reserved_bytes(), 2 * 10 * 2 * (16 * 2 + 4));
  store.Clear();
  EXPECT_EQ(store.live_bytes(), 0);
}

}  // namespace
}  // namespace skv
