#include "compress/kv_store.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <cstring>
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
      EXPECT_EQ(*view.Pos(g, j), j);
      for (int64_t d = 0; d < D; ++d) {
        const float want = static_cast<float>(j * 8 + g * 2) + (d % 4) / 4.f;
        ASSERT_EQ(F16BitsToF32(view.Key(g, j, D)[d]), want) << g << " " << j;
        ASSERT_EQ(F16BitsToF32(view.Value(g, j, D)[d]), -want);
      }
    }
  }
}

// Entries spread over several blocks; compaction keeps per-head sets in new
// blocks and frees the rest; copies are deep.
TEST(LayerKv, BlocksHoldEntriesAcrossBoundariesAndCompactionFreesThem) {
  const int64_t G = 2, D = 8, n = 2 * kKvBlockSlots + 100;
  LayerKv kv(G, D, D);
  std::vector<float> k, v;
  std::vector<int32_t> pos;
  MakeBatch(0, n, G, D, &k, &v, &pos);
  kv.Append(k.data(), v.data(), pos.data(), n);
  EXPECT_EQ(kv.n_blocks(), 3);
  const LayerKv copy = kv;
  const KvView cv = copy.View();
  std::vector<std::vector<int32_t>> keep(G);
  for (int32_t j = 0; j < n; j += 3) keep[0].push_back(j);                // every 3rd
  for (int32_t j = n - static_cast<int32_t>(keep[0].size()); j < n; ++j) keep[1].push_back(j);
  kv.Compact(keep, 5);
  const int64_t count = static_cast<int64_t>(keep[0].size());
  EXPECT_EQ(kv.length(), count);
  EXPECT_EQ(kv.n_blocks(), (count + 5 + kKvBlockSlots - 1) / kKvBlockSlots);
  EXPECT_LT(kv.reserved_bytes(), copy.reserved_bytes());
  const KvView view = kv.View();
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t i = 0; i < count; ++i) {
      const int32_t j = keep[g][i];
      ASSERT_EQ(*view.Pos(g, i), j);
      ASSERT_EQ(0, std::memcmp(view.Key(g, i, D), cv.Key(g, j, D), D * sizeof(uint16_t)));
      ASSERT_EQ(0, std::memcmp(view.Value(g, i, D), cv.Value(g, j, D), D * sizeof(uint16_t)));
    }
  }
  EXPECT_EQ(kv.Positions(1).front(), keep[1].front());
  // The copy still holds every entry.
  ASSERT_EQ(cv.n, n);
  EXPECT_EQ(*cv.Pos(1, n - 1), n - 1);
  EXPECT_EQ(F16BitsToF32(cv.Value(0, kKvBlockSlots, D)[0]),
            -static_cast<float>(kKvBlockSlots * 8));
}

// A sliding-window layer's dead prefix goes block by block: only full blocks
// whose entries are all below the cut in every head, their storage reused.
TEST(LayerKv, DropLeadingBlocksFreesOnlyWholeDeadBlocks) {
  const int64_t G = 2, D = 8, n = 3 * kKvBlockSlots + 100;
  LayerKv kv(G, D, D);
  std::vector<float> k, v;
  std::vector<int32_t> pos;
  MakeBatch(0, n, G, D, &k, &v, &pos);
  kv.Append(k.data(), v.data(), pos.data(), n);
  const int64_t blocks = kv.n_blocks(), reserved = kv.reserved_bytes();
  EXPECT_EQ(kv.DropLeadingBlocks(0), 0);
  // Position 300 is in the second block: only the first goes.
  EXPECT_EQ(kv.DropLeadingBlocks(300), 1);
  EXPECT_EQ(kv.length(), n - kKvBlockSlots);
  EXPECT_EQ(kv.n_blocks(), blocks);        // recycled, not freed
  EXPECT_EQ(kv.reserved_bytes(), reserved);
  {
    const KvView view = kv.View();
    for (int64_t g = 0; g < G; ++g) {
      for (int64_t j = 0; j < view.n; ++j) {
        const int64_t p = j + kKvBlockSlots;
        ASSERT_EQ(*view.Pos(g, j), p);
        const float want = F16BitsToF32(F32ToF16Bits(static_cast<float>(p * 8 + g * 2)));
        ASSERT_EQ(F16BitsToF32(view.Key(g, j, D)[0]), want);
      }
    }
  }
  // Appending again fills the recycled storage: no new block.
  MakeBatch(n, kKvBlockSlots, G, D, &k, &v, &pos);
  kv.Append(k.data(), v.data(), pos.data(), kKvBlockSlots);
  EXPECT_EQ(kv.n_blocks(), blocks);
  ASSERT_EQ(kv.length(), n);
  EXPECT_EQ(*kv.View().Pos(1, n - 1), n + kKvBlockSlots - 1);
  // Everything is dead: the last, partly filled block stays.
  EXPECT_EQ(kv.DropLeadingBlocks(1 << 30), n / kKvBlockSlots);
  EXPECT_EQ(kv.length(), n % kKvBlockSlots);
  // A block still visible to one head stays for all heads.
  LayerKv two(G, D, D);
  MakeBatch(0, 2 * kKvBlockSlots, G, D, &k, &v, &pos);
  two.Append(k.data(), v.data(), pos.data(), 2 * kKvBlockSlots);
  std::vector<std::vector<int32_t>> keep(G);
  for (int32_t j = 0; j < kKvBlockSlots + 10; ++j) keep[0].push_back(j);
  for (int32_t j = kKvBlockSlots - 10; j < 2 * kKvBlockSlots; ++j) keep[1].push_back(j);
  two.Compact(keep, 0);
  EXPECT_EQ(two.DropLeadingBlocks(kKvBlockSlots), 0);  // head 1's first block is alive
  EXPECT_EQ(two.DropLeadingBlocks(2 * kKvBlockSlots), 1);
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
  // Storage comes in whole blocks: one block per layer.
  EXPECT_EQ(store.reserved_bytes(), 2 * kKvBlockSlots * 2 * (16 * 2 + 4));
  store.Clear();
  EXPECT_EQ(store.live_bytes(), 0);
}

// bf16 and q8_0 caches: rows round-trip within the type's precision,
// survive compaction bit for bit, and cost their own bytes (q8_0: 34 bytes
// per 32 elements; bf16: 2 per element).
TEST(LayerKv, Bf16AndQ8_0RowsRoundTripAndCompact) {
  const int64_t G = 2, D = 64, T = 300;  // two blocks of slots
  for (const GgmlType type : {GgmlType::kBF16, GgmlType::kQ8_0}) {
    LayerKv kv(G, D, D, type);
    std::vector<float> k, v;
    std::vector<int32_t> pos;
    MakeBatch(0, T, G, D, &k, &v, &pos);
    kv.Append(k.data(), v.data(), pos.data(), T);
    const int64_t units = KvRowUnits(type, D);
    EXPECT_EQ(kv.bytes_per_entry(), G * (2 * units * 2 + 4)) << GgmlTypeName(type);
    EXPECT_EQ(units, type == GgmlType::kQ8_0 ? 2 * 17 : D);
    const KvView view = kv.View();
    EXPECT_EQ(view.type, type);
    std::vector<float> row(D);
    for (int64_t g = 0; g < G; ++g) {
      for (int64_t j = 0; j < T; j += 37) {
        DequantizeRow(type, view.Key(g, j, units), row.data(), D);
        for (int64_t d = 0; d < D; ++d) {
          const float want = k[(j * G + g) * D + d];
          // bf16: 8 significant bits; q8_0: half a step of max|x| / 127.
          const float tol = type == GgmlType::kBF16 ? std::fabs(want) / 256
                                                    : (std::fabs(want) + 1) / 254 + 1e-3f;
          ASSERT_NEAR(row[d], want, tol) << GgmlTypeName(type) << " g=" << g << " j=" << j;
        }
      }
    }
    // Keep every third entry per head: copied rows are the same bits.
    std::vector<std::vector<int32_t>> keep(G);
    for (int64_t g = 0; g < G; ++g) {
      for (int32_t j = g; j < T; j += 3) keep[g].push_back(j);
      keep[g].resize(90);
    }
    LayerKv before = kv;
    kv.Compact(keep, 4);
    const KvView a = before.View(), b = kv.View();
    for (int64_t g = 0; g < G; ++g) {
      for (int64_t i = 0; i < 90; ++i) {
        ASSERT_EQ(0, std::memcmp(a.Key(g, keep[g][i], units), b.Key(g, i, units), units * 2));
        ASSERT_EQ(0, std::memcmp(a.Value(g, keep[g][i], units), b.Value(g, i, units), units * 2));
      }
    }
    EXPECT_EQ(kv.live_bytes(), 90 * kv.bytes_per_entry());
  }
}

}  // namespace
}  // namespace skv
