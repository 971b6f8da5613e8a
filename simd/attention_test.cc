// Attention kernel vs the two-pass double reference on every compiled target:
// GQA, causal and sliding-window masks, softcap, unsorted and pruned key
// sets, decode (n_q = 1), queries with nothing visible, window saliency and
// thread-count independence.
#include "simd/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "base/parallel.h"
#include "gtest/gtest.h"
#include "simd/quant.h"
#include "simd/target_test_util.h"

namespace skv {
namespace {

constexpr float kEps = std::numeric_limits<float>::epsilon();

// Random IEEE half bits with magnitudes in [2^-5, 2): exponent field 10..15.
uint16_t RandomHalf(std::mt19937& rng) {
  const uint32_t sign = rng() & 1;
  const uint32_t exp = 10 + rng() % 6;
  const uint32_t mant = rng() & 0x3ff;
  return static_cast<uint16_t>((sign << 15) | (exp << 10) | mant);
}

float HalfToFloat(uint16_t h) {  // normal values only (what RandomHalf makes)
  const int exp = (h >> 10) & 0x1f;
  const float v = std::ldexp(static_cast<float>((h & 0x3ff) | 0x400), exp - 25);
  return (h >> 15) ? -v : v;
}

struct Problem {
  AttentionShape shape;
  AttentionMask mask;
  float scale = 0;
  int64_t n_q = 0;
  std::vector<float> q;        // [n_q][H][D]
  std::vector<int32_t> q_pos;  // [n_q]
  std::vector<uint16_t> k, v;  // [G][stride][D]
  std::vector<int32_t> pos;    // [G][stride]
  KvView kv;

  enum class Keys { kSorted, kShuffled, kPrunedPerHead };

  // Keys at positions [0, n_ctx) (or a per-head subset of n of them);
  // queries at the last n_q positions of the context.
  Problem(int64_t H, int64_t G, int64_t D, int64_t n_q_, int64_t n_ctx,
          int64_t n, Keys keys, uint32_t seed) {
    std::mt19937 rng(seed);
    shape = {H, G, D};
    n_q = n_q_;
    scale = 1.f / std::sqrt(static_cast<float>(D));
    const int64_t stride = n + 3;  // slack slots past n must be ignored
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    q.resize(n_q * H * D);
    for (float& x : q) x = 2.f * dist(rng);
    for (int64_t t = 0; t < n_q; ++t) {
      q_pos.push_back(static_cast<int32_t>(n_ctx - n_q + t));
    }
    k.resize(G * stride * D);
    v.resize(G * stride * D);
    for (auto& x : k) x = RandomHalf(rng);
    for (auto& x : v) x = RandomHalf(rng);
    pos.assign(G * stride, 1 << 30);  // garbage in the slack slots
    for (int64_t g = 0; g < G; ++g) {
      std::vector<int32_t> p(n_ctx);
      std::iota(p.begin(), p.end(), 0);
      if (keys == Keys::kPrunedPerHead) {
        std::shuffle(p.begin(), p.end(), rng);
        p.resize(n);
        std::sort(p.begin(), p.end());
      } else if (keys == Keys::kShuffled) {
        std::shuffle(p.begin(), p.end(), rng);
      }
      for (int64_t j = 0; j < n; ++j) pos[g * stride + j] = p[j];
    }
    kv = {k.data(), v.data(), pos.data(), n, stride};
  }

  // Largest |scale * q . k| over all (query, head, key) pairs, and max |v|.
  double MaxLogit() const {
    const int64_t H = shape.n_heads, D = shape.head_dim;
    const int64_t n_rep = H / shape.n_kv_heads;
    double m = 0;
    for (int64_t t = 0; t < n_q; ++t) {
      for (int64_t h = 0; h < H; ++h) {
        const float* qv = q.data() + (t * H + h) * D;
        const uint16_t* kh = k.data() + (h / n_rep) * kv.head_stride * D;
        for (int64_t j = 0; j < kv.n; ++j) {
          double s = 0;
          for (int64_t d = 0; d < D; ++d) s += double(qv[d]) * HalfToFloat(kh[j * D + d]);
          m = std::max(m, std::fabs(s) * scale);
        }
      }
    }
    return m;
  }
  double MaxV() const {
    double m = 0;
    for (auto x : v) m = std::max(m, double(std::fabs(HalfToFloat(x))));
    return m;
  }

  // Re-stores K and V in another cache type (bf16, q8_0), from the f16
  // values: the kernel and the reference then both read the new rows.
  void Recode(GgmlType type) {
    const int64_t G = shape.n_kv_heads, D = shape.head_dim;
    const int64_t units = KvRowUnits(type, D), rows = G * kv.head_stride;
    for (auto [src, dst] : {std::pair{&k, &k_recoded}, std::pair{&v, &v_recoded}}) {
      dst->assign(rows * units, 0);
      std::vector<float> f(D);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t d = 0; d < D; ++d) f[d] = HalfToFloat((*src)[r * D + d]);
        StoreKvRow(type, f.data(), dst->data() + r * units, D);
      }
    }
    kv.k = k_recoded.data();
    kv.v = v_recoded.data();
    kv.type = type;
  }
  std::vector<uint16_t> k_recoded, v_recoded;  // [G][stride][KvRowUnits]

  std::vector<float> Run(bool ref, WindowSaliency* sal = nullptr) const {
    std::vector<float> out(n_q * shape.n_heads * shape.head_dim, -7.f);
    if (ref) {
      AttentionRef(shape, mask, scale, q.data(), q_pos.data(), n_q, kv,
                   out.data(), sal);
    } else {
      Attention(shape, mask, scale, q.data(), q_pos.data(), n_q, kv,
                out.data(), sal);
    }
    return out;
  }
};

// Output rows are convex combinations of V rows: an f32 logit error of
// ~eps * (1 + |logit|) per term moves the result by about that times max|v|;
// the f32 accumulation over keys adds a few eps * max|v|. Probabilities are
// rounded to f16 before they weight V (ggml's numerics); where the kernel's
// f32 exp and the reference's double exp straddle a rounding boundary, p_j
// moves by one f16 ulp <= 2^-10 p_j, so by at most 2^-10 max|v| in total.
double OutputTolerance(const Problem& pr) {
  return 4 * kEps * pr.MaxV() * (1.0 + pr.MaxLogit()) +
         std::ldexp(pr.MaxV(), -10);
}

void ExpectMatches(const Problem& pr, const std::vector<float>& want,
                   double tol, const char* what) {
  const auto got = pr.Run(false);
  double worst = 0;
  size_t wi = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(double(got[i]) - want[i]);
    if (!(e <= worst)) {
      worst = std::isnan(got[i]) ? INFINITY : e;
      wi = i;
    }
  }
  const int64_t HD = pr.shape.n_heads * pr.shape.head_dim;
  if (getenv("SKV_TEST_VERBOSE")) printf("%s: worst/tol = %.3f\n", what, worst / tol);
  EXPECT_LE(worst, tol) << what << ": worst at t=" << wi / HD
                        << " h=" << (wi % HD) / pr.shape.head_dim
                        << " d=" << wi % pr.shape.head_dim
                        << " got=" << got[wi] << " want=" << want[wi];
}

// Collects a result per target and checks each against the first target's
// bits (simd/fixed_math-inl.h: one arithmetic on every target).
struct SameBits {
  std::vector<float> first;
  void Check(const std::vector<float>& got, const char* what) {
    if (first.empty()) {
      first = got;
      return;
    }
    ASSERT_EQ(first.size(), got.size());
    EXPECT_EQ(0, std::memcmp(first.data(), got.data(), got.size() * sizeof(float)))
        << what << ": not the first target's bits";
  }
};

struct Config {
  int64_t D, n_q, n_ctx, n;
  Problem::Keys keys;
  int64_t window;
  float softcap;
};

class AttentionConfigTest : public ::testing::TestWithParam<Config> {};

// Within the tolerance of the reference, and the same bits on every target
// (simd/fixed_math-inl.h): a saved state continues the same on any CPU.
TEST_P(AttentionConfigTest, MatchesReferenceOnEveryTarget) {
  const Config c = GetParam();
  Problem pr(8, 2, c.D, c.n_q, c.n_ctx, c.n, c.keys, 1234 + c.n + c.D);
  pr.mask.sliding_window = c.window;
  pr.mask.softcap = c.softcap;
  const auto want = pr.Run(true);
  const double tol = OutputTolerance(pr);
  std::vector<float> first;
  ForEachTarget([&](int64_t) {
    ExpectMatches(pr, want, tol, "attention");
    const std::vector<float> got = pr.Run(false);
    if (first.empty()) first = got;
    EXPECT_EQ(0, std::memcmp(first.data(), got.data(), got.size() * sizeof(float)))
        << "not the first target's bits";
  });
}

using K = Problem::Keys;
INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionConfigTest,
    ::testing::Values(
        // D, n_q, n_ctx, n, keys, window, softcap
        Config{64, 37, 300, 300, K::kSorted, 0, 0.f},
        Config{256, 37, 300, 300, K::kSorted, 0, 0.f},
        Config{64, 1, 300, 300, K::kSorted, 0, 0.f},
        Config{256, 1, 257, 257, K::kSorted, 0, 0.f},
        Config{64, 37, 37, 37, K::kSorted, 0, 0.f},     // pure prefill
        Config{64, 5, 5, 5, K::kSorted, 0, 0.f},        // tiny
        Config{64, 37, 300, 300, K::kSorted, 16, 0.f},  // sliding window
        Config{256, 1, 300, 300, K::kSorted, 50, 0.f},
        Config{64, 37, 300, 300, K::kSorted, 0, 5.f},   // softcap
        Config{256, 37, 200, 200, K::kShuffled, 24, 3.f},
        Config{64, 37, 300, 300, K::kShuffled, 0, 0.f},
        Config{64, 1, 300, 300, K::kShuffled, 0, 0.f},
        Config{64, 37, 300, 111, K::kPrunedPerHead, 0, 0.f},
        Config{256, 1, 300, 45, K::kPrunedPerHead, 0, 0.f},
        Config{64, 37, 300, 1, K::kPrunedPerHead, 0, 0.f}));

// bf16 and q8_0 caches (--cache-type): the kernel decodes the rows and
// rounds probabilities as the reference does (bf16 P for bf16 values, f32 P
// for q8_0), on every target, for prefill, decode, windows and pruned sets.
TEST(AttentionTest, Bf16AndQ8_0CachesMatchReference) {
  for (const GgmlType type : {GgmlType::kBF16, GgmlType::kQ8_0}) {
    for (const Config& c : {Config{64, 37, 300, 300, K::kSorted, 0, 0.f},
                            Config{256, 1, 300, 300, K::kSorted, 50, 0.f},
                            Config{64, 37, 300, 111, K::kPrunedPerHead, 16, 5.f},
                            Config{128, 5, 5, 5, K::kSorted, 0, 0.f}}) {
      Problem pr(8, 2, c.D, c.n_q, c.n_ctx, c.n, c.keys, 99 + c.n + c.D);
      pr.mask.sliding_window = c.window;
      pr.mask.softcap = c.softcap;
      pr.Recode(type);
      const auto want = pr.Run(true);
      // One bf16 ulp of P is 2^-8 p; q8_0 values are within 1% of the f16
      // ones the bounds are computed from.
      const double tol = 1.1 * (4 * kEps * pr.MaxV() * (1.0 + pr.MaxLogit()) +
                                std::ldexp(pr.MaxV(), -7));
      ForEachTarget([&](int64_t) {
        ExpectMatches(pr, want, tol, GgmlTypeName(type));
      });
      // And it really reads the other type: f16 results differ.
      Problem f16(8, 2, c.D, c.n_q, c.n_ctx, c.n, c.keys, 99 + c.n + c.D);
      f16.mask = pr.mask;
      EXPECT_NE(f16.Run(false), pr.Run(false)) << GgmlTypeName(type);
    }
  }
}

// Decode over long caches splits the keys into fixed ranges (flash
// decoding): same answers as the reference on every target, for sliding
// windows, softcap, pruned per-head sets and the other cache types, and the
// same bits for any thread count.
TEST(AttentionTest, SplitKeyDecodeMatchesReferenceAndIgnoresThreads) {
  struct Case { Config c; GgmlType type; };
  for (const Case& k : {Case{Config{64, 1, 5000, 5000, K::kSorted, 0, 0.f}, GgmlType::kF16},
                        Case{Config{256, 3, 4100, 4100, K::kSorted, 600, 0.f}, GgmlType::kF16},
                        Case{Config{64, 1, 9000, 3000, K::kPrunedPerHead, 0, 5.f}, GgmlType::kF16},
                        Case{Config{64, 2, 4500, 4500, K::kShuffled, 0, 0.f}, GgmlType::kQ8_0}}) {
    const Config& c = k.c;
    Problem pr(8, 2, c.D, c.n_q, c.n_ctx, c.n, c.keys, 7 + c.n + c.D);
    pr.mask.sliding_window = c.window;
    pr.mask.softcap = c.softcap;
    if (k.type != GgmlType::kF16) pr.Recode(k.type);
    const auto want = pr.Run(true);
    const double tol = 1.1 * (4 * kEps * pr.MaxV() * (1.0 + pr.MaxLogit()) +
                              std::ldexp(pr.MaxV(), -10));
    SameBits same;
    ForEachTarget([&](int64_t) {
      ExpectMatches(pr, want, tol, "split-key decode");
      same.Check(pr.Run(false), "split-key decode");
    });
    const int saved = MaxThreads();
    SetThreads(1);
    const auto one = pr.Run(false);
    SetThreads(2);
    const auto two = pr.Run(false);
    SetThreads(saved);
    EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * sizeof(float)))
        << "n=" << c.n << " D=" << c.D;
  }
}

TEST(AttentionTest, OddHeadDimsAndGroupSizes) {
  // head_dim not a multiple of the vector length (and shorter than one
  // AVX-512 vector); MHA (n_rep 1) and one KV head for all (n_rep 8).
  struct Case { int64_t H, G, D, n_q, n; };
  for (const Case& c : {Case{8, 2, 72, 9, 50}, Case{8, 2, 20, 37, 61},
                        Case{4, 4, 64, 13, 40}, Case{8, 1, 48, 6, 33},
                        Case{6, 3, 36, 1, 19}}) {
    Problem pr(c.H, c.G, c.D, c.n_q, c.n, c.n, K::kShuffled, 3 + c.D);
    pr.mask.sliding_window = 11;
    const auto want = pr.Run(true);
    const double tol = OutputTolerance(pr);
    SameBits same;
    ForEachTarget([&](int64_t) {
      SCOPED_TRACE(::testing::Message() << "H=" << c.H << " G=" << c.G << " D=" << c.D);
      ExpectMatches(pr, want, tol, "odd shapes");
      same.Check(pr.Run(false), "odd shapes");
    });
  }
}

TEST(AttentionTest, QueryWithNoVisibleKeyGetsZeros) {
  // Keys at positions >= 10; query 0 at position 3 sees nothing; query 1 at
  // position 500 with a sliding window of 8 sees nothing either; query 2 sees
  // everything.
  Problem pr(8, 2, 64, 3, 400, 300, K::kSorted, 77);
  for (auto& p : pr.pos) p = p == (1 << 30) ? p : p + 10;
  pr.q_pos = {3, 500, 320};
  pr.mask.sliding_window = 0;
  const double tol = OutputTolerance(pr);
  auto want = pr.Run(true);
  ForEachTarget([&](int64_t) {
    ExpectMatches(pr, want, tol, "no visible key (causal)");
    const auto got = pr.Run(false);
    for (int64_t i = 0; i < 8 * 64; ++i) ASSERT_EQ(got[i], 0.f) << i;
  });
  pr.mask.sliding_window = 8;  // query at 500: nearest key is 309
  want = pr.Run(true);
  ForEachTarget([&](int64_t) {
    const auto got = pr.Run(false);
    for (int64_t i = 8 * 64; i < 2 * 8 * 64; ++i) ASSERT_EQ(got[i], 0.f) << i;
    ExpectMatches(pr, want, tol, "no visible key (window)");
  });
}

TEST(AttentionTest, EmptyKvSetGivesZeros) {
  Problem pr(8, 2, 64, 4, 10, 0, K::kSorted, 5);
  const auto got = pr.Run(false);
  for (float x : got) ASSERT_EQ(x, 0.f);
}

TEST(AttentionTest, ResultsDoNotDependOnThreadCount) {
  Problem pr(8, 2, 64, 37, 300, 300, K::kShuffled, 9);
  pr.mask.softcap = 10.f;
  const int saved = MaxThreads();
  std::vector<float> sal1(8 * 300), sal2(8 * 300);
  WindowSaliency w1{8, sal1.data()}, w2{8, sal2.data()};
  SetThreads(1);
  const auto one = pr.Run(false, &w1);
  SetThreads(2);
  const auto two = pr.Run(false, &w2);
  SetThreads(saved);
  ASSERT_EQ(one.size(), two.size());
  EXPECT_EQ(0, std::memcmp(one.data(), two.data(), one.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(sal1.data(), sal2.data(), sal1.size() * sizeof(float)));
}

TEST(AttentionTest, WindowSaliencyMatchesReference) {
  for (const auto& [n_q, window, keys, softcap] :
       std::vector<std::tuple<int64_t, int64_t, K, float>>{
           {37, 8, K::kSorted, 0.f},
           {37, 8, K::kShuffled, 4.f},
           {5, 8, K::kSorted, 0.f},  // window longer than the query block
           {1, 1, K::kPrunedPerHead, 0.f},
           {37, 37, K::kSorted, 0.f}}) {
    for (int64_t D : {64, 256}) {
      const int64_t n = keys == K::kPrunedPerHead ? 120 : 300;
      Problem pr(8, 2, D, n_q, 300, n, keys, 31 + n_q + D);
      pr.mask.softcap = softcap;
      std::vector<float> want(8 * n, -1.f);
      WindowSaliency wr{window, want.data()};
      pr.Run(true, &wr);
      // Each entry sums <= window probabilities, each off by ~eps (1 +
      // |logit|) relative.
      const double tol = 4 * kEps * (1.0 + pr.MaxLogit()) * window;
      SameBits same;
      ForEachTarget([&](int64_t) {
        std::vector<float> got(8 * n, -1.f);
        WindowSaliency wg{window, got.data()};
        pr.Run(false, &wg);
        same.Check(got, "window saliency");
        double worst = 0;
        int64_t wi = 0;
        for (int64_t i = 0; i < 8 * n; ++i) {
          const double e = std::fabs(double(got[i]) - want[i]);
          if (!(e <= worst)) {
            worst = std::isnan(got[i]) ? INFINITY : e;
            wi = i;
          }
        }
        EXPECT_LE(worst, tol) << "n_q=" << n_q << " w=" << window << " D=" << D
                              << " worst h=" << wi / n << " j=" << wi % n
                              << " got=" << got[wi] << " want=" << want[wi];
        // Every window row is a distribution over its visible keys.
        const int64_t rows = std::min(window, n_q);
        for (int64_t h = 0; h < 8; ++h) {
          double s = 0;
          for (int64_t j = 0; j < n; ++j) s += got[h * n + j];
          EXPECT_NEAR(s, double(rows), 1e-4 * rows) << "h=" << h;
        }
      });
    }
  }
}

// The extras (max over rows, per-row probabilities, the last query's
// logits) on every target against the reference.
TEST(AttentionTest, WindowExtrasMatchReference) {
  for (const auto& [n_q, window, keys, softcap] :
       std::vector<std::tuple<int64_t, int64_t, K, float>>{
           {37, 8, K::kShuffled, 0.f},
           {37, 8, K::kSorted, 4.f},
           {5, 8, K::kPrunedPerHead, 0.f}}) {
    const int64_t H = 8, n = keys == K::kPrunedPerHead ? 120 : 300;
    const int64_t w = std::min(window, n_q);
    Problem pr(H, 2, 64, n_q, 300, n, keys, 77 + n_q);
    pr.mask.softcap = softcap;
    pr.mask.sliding_window = keys == K::kSorted ? 100 : 0;
    std::vector<float> want_max(H * n), want_rows(H * w * n, -1.f), want_last(H * n);
    WindowSaliency wr{window, want_max.data(), true, want_rows.data(), want_last.data()};
    pr.Run(true, &wr);
    const double logit_tol = 4 * kEps * (1.0 + pr.MaxLogit());
    const double tol = logit_tol;  // probabilities <= 1 move by ~eps (1 + |logit|)
    SameBits same_max, same_rows, same_last;
    ForEachTarget([&](int64_t) {
      std::vector<float> got_max(H * n, -1.f), got_rows(H * w * n, -1.f),
          got_last(H * n, 5.f);
      WindowSaliency wg{window, got_max.data(), true, got_rows.data(), got_last.data()};
      pr.Run(false, &wg);
      same_max.Check(got_max, "max over rows");
      same_rows.Check(got_rows, "window rows");
      same_last.Check(got_last, "last logits");
      for (int64_t i = 0; i < H * n; ++i) {
        ASSERT_NEAR(got_max[i], want_max[i], tol) << "max i=" << i;
        if (std::isinf(want_last[i])) {
          ASSERT_TRUE(std::isinf(got_last[i]) && got_last[i] < 0) << "last i=" << i;
        } else {
          ASSERT_NEAR(got_last[i], want_last[i], logit_tol) << "last i=" << i;
        }
      }
      for (int64_t i = 0; i < H * w * n; ++i) {
        ASSERT_NEAR(got_rows[i], want_rows[i], tol) << "rows i=" << i;
      }
      // The max over rows is the max of the emitted rows.
      for (int64_t h = 0; h < H; ++h) {
        for (int64_t j = 0; j < n; ++j) {
          float m = 0.f;
          for (int64_t r = 0; r < w; ++r) m = std::max(m, got_rows[(h * w + r) * n + j]);
          ASSERT_EQ(m, got_max[h * n + j]);
        }
      }
    });
  }
}

}  // namespace
}  // namespace skv
