// Flash-attention style kernel for simd/attention.h.
//
// Work item = (KV head g, block of consecutive queries). Its rows are the
// (query, head) pairs of the block for the n_rep query heads that share g,
// so every K/V tile is converted from f16 once and reused by all of them.
// Per key tile:
//   1. K tile -> f32 [Bk][Dp]; scores S[j][r] = sum_d K[j][d] * Qt[d][r] with
//      the queries transposed once per item, so the inner loop vectorises
//      across rows and needs no horizontal sums. Items with fewer rows than
//      lanes (decode) take dot products along head_dim instead.
//   2. softcap, mask by original positions, online softmax across rows
//      (running max m[r] and sum l[r], f32).
//   3. V tile -> f32 [Bk][Dp]; acc[r][:] += sum_j P[j][r] * V[j][:],
//      register-blocked 4 rows x 2 vectors.
// Steps 1-2 run in a first sweep over the keys (the rows' final max and
// sum), step 3 in a second with normalised probabilities. The first sweep's
// masked scores are kept (up to kMaxCachedScores per item) so the second
// reads them back instead of converting K and computing Q.K again.
// Each work item is computed by one thread in a fixed order, so results do
// not depend on the thread count. Window saliency (optional) is captured in
// the second pass of the work items that hold the window rows (their final m
// and l are known by then) and reduced over the rows in a fixed order.
#include "simd/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "base/check.h"
#include "base/parallel.h"
#include "hwy/aligned_allocator.h"
#include "simd/activation_round.h"
#include "simd/quant.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "simd/fixed_math-inl.h"
#include "simd/kv_row-inl.h"

HWY_BEFORE_NAMESPACE();
namespace skv {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
using DI = hn::RebindToSigned<DF>;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int64_t kMaxLanes = 64;
using kv_row::PromoteKvRow;
// Rows (query x head pairs) per work item: enough to amortise the f16->f32
// tile conversion and keep Qt, S and acc in L1/L2.
constexpr int64_t kTargetRows = 32;
// Upper bound on the masked scores one work item keeps from sweep 1 for
// sweep 2 ([keys][Rp] floats, 4 MiB): below it the second sweep reads them
// back instead of promoting K and recomputing Q.K (a third of the kernel's
// FLOPs); above it (very long caches) it recomputes them.
constexpr int64_t kMaxCachedScores = int64_t{1} << 20;

inline int64_t RoundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// exp(x) with x <= 0, the same bits on every target. ExpFixed converts its
// argument to int first, so -inf (a masked score) is clamped out of harm's
// way; below -104 the result is 0 anyway.
HWY_INLINE VF ExpNeg(DF d, VF x) {
  return fixed::ExpFixed(d, hn::Max(x, hn::Set(d, -120.f)));
}

// a * b + c rounded once on every target (fixed_math-inl.h). Every
// accumulation below runs along one lane (a row or a head_dim component),
// so with this the results do not depend on the target's vector width.
HWY_INLINE VF Fma(VF a, VF b, VF c) { return fixed::MulAddFixed(DF(), a, b, c); }

// Rounds probabilities p in [0, 1] to the nearest f16 value (ties to even),
// in f32, identically on every target: above 2^-14 by rounding the f32
// mantissa to 10 bits, below it to multiples of 2^-24 (f16 subnormals).
HWY_INLINE VF RoundProbabilityToF16(DF d, VF p) {
  using DU = hn::RebindToUnsigned<DF>;
  const DU du;
  const auto bits = hn::BitCast(du, p);
  const auto lsb = hn::And(hn::ShiftRight<13>(bits), hn::Set(du, 1u));
  const auto rounded = hn::And(hn::Add(bits, hn::Add(hn::Set(du, 0xFFFu), lsb)),
                               hn::Set(du, ~0x1FFFu));
  const VF normal = hn::BitCast(d, rounded);
  const VF two24 = hn::Set(d, 16777216.f);
  const VF subnormal = hn::Div(hn::Round(hn::Mul(p, two24)), two24);
  return hn::IfThenElse(hn::Lt(p, hn::Set(d, 6.103515625e-05f)), subnormal,
                        normal);
}

// Per-thread scratch, grown on demand and reused by every later item and
// call, so tiles never allocate.
struct Scratch {
  hwy::AlignedFreeUniquePtr<float[]> f;
  hwy::AlignedFreeUniquePtr<int32_t[]> i;
  hwy::AlignedFreeUniquePtr<float[]> c;
  size_t f_cap = 0, i_cap = 0, c_cap = 0;
  float* Cache(size_t n) {
    if (n > c_cap) {
      c = hwy::AllocateAligned<float>(n);
      c_cap = n;
    }
    return c.get();
  }
  float* Floats(size_t n) {
    if (n > f_cap) {
      f = hwy::AllocateAligned<float>(n);
      f_cap = n;
    }
    return f.get();
  }
  int32_t* Ints(size_t n) {
    if (n > i_cap) {
      i = hwy::AllocateAligned<int32_t>(n);
      i_cap = n;
    }
    return i.get();
  }
};
thread_local Scratch tls_scratch;

// Call-wide constants.
struct Plan {
  int64_t H, n_rep, D, Dp, Bk;
  int64_t W;
  float softcap, scale;
  const float* q;
  const int32_t* q_pos;
  int64_t n_q;
  KvView kv;
  int64_t units;  // KvRowUnits(kv.type, D): uint16 units per K or V row
};

// Rows of one work item: queries [t0, t1) x the n_rep heads of KV head g;
// row r = (t0 + r / n_rep, g * n_rep + r % n_rep).
struct Block {
  int64_t g, t0, t1, R, Rp;
  float* qt;    // [D][Rp] scaled queries, transposed (unless DotScores)
  float* qr;    // [Rp][Dp] the same queries row by row, zero past R and D
                // (only when DotScores)
  float* s;     // [Bk][Rp] scores, then probabilities (the tile's rows of
                // the score cache while a cache is in use)
  float* kf;    // [Bk][Dp] key tile in f32, zero past D
  float* vf;    // [Bk][Dp] value tile in f32, zero past D
  float* acc;   // [Rp][Dp] outputs (P is normalised in sweep 2)
  float* m;     // [Rp] running max (-inf: nothing visible yet)
  float* l;     // [Rp] running sum
  int32_t* lo;  // [Rp] lowest visible key position (padded rows: INT32_MAX)
  int32_t* hi;  // [Rp] query position (padded rows: INT32_MIN)
  int32_t lo_min, hi_max;  // block extremes, for skipping tiles
};

// Rows of a block padded to whole vectors (and to the 4-row groups of the
// tile loops).
inline int64_t PaddedRows(int64_t R) {
  const DF d;
  return RoundUp(R, std::max<int64_t>(4, static_cast<int64_t>(hn::Lanes(d))));
}

// Lanes of the dot products along head_dim (ScoresTileDot): 16 virtual
// lanes on every target, so head_dim is padded to a multiple of 16.
constexpr int64_t kDotLanes = 16;

// Whether ScoresTile takes dot products along head_dim (ScoresTileDot): the
// block has fewer rows than an AVX-512 vector (decode), so vectors across
// rows would be mostly padding. The threshold is the same on every target,
// so every target takes the same path (and computes the same bits).
inline bool DotScores(const Block& b) { return b.R < kDotLanes; }

void SetupBlock(const Plan& p, int64_t g, int64_t t0, int64_t t1, Block& b) {
  b.g = g;
  b.t0 = t0;
  b.t1 = t1;
  b.R = (t1 - t0) * p.n_rep;
  b.Rp = PaddedRows(b.R);
  const int64_t Rp = b.Rp, D = p.D, Dp = p.Dp, Bk = p.Bk;
  // Every section starts on a 64-byte boundary (16 floats).
  const int64_t sz_qt = RoundUp(D * Rp, 16), sz_s = RoundUp(Bk * Rp, 16);
  const int64_t sz_qr = RoundUp(Rp * Dp, 16);
  const int64_t sz_kf = RoundUp(Bk * Dp, 16), sz_vf = RoundUp(Bk * Dp, 16);
  const int64_t sz_acc = Rp * Dp, sz_row = RoundUp(Rp, 16);
  float* f = tls_scratch.Floats(static_cast<size_t>(
      sz_qt + sz_qr + sz_s + sz_kf + sz_vf + sz_acc + 2 * sz_row));
  b.qt = f;
  b.qr = b.qt + sz_qt;
  b.s = b.qr + sz_qr;
  b.kf = b.s + sz_s;
  b.vf = b.kf + sz_kf;
  b.acc = b.vf + sz_vf;
  b.m = b.acc + sz_acc;
  b.l = b.m + sz_row;
  int32_t* ip = tls_scratch.Ints(static_cast<size_t>(2 * sz_row));
  b.lo = ip;
  b.hi = ip + sz_row;

  const bool dot = DotScores(b);
  if (dot) {
    std::fill(b.qr, b.qr + Rp * Dp, 0.f);
  } else {
    std::fill(b.qt, b.qt + D * Rp, 0.f);
  }
  b.lo_min = std::numeric_limits<int32_t>::max();
  b.hi_max = std::numeric_limits<int32_t>::min();
  for (int64_t r = 0; r < Rp; ++r) {
    if (r >= b.R) {
      b.lo[r] = std::numeric_limits<int32_t>::max();
      b.hi[r] = std::numeric_limits<int32_t>::min();
      continue;
    }
    const int64_t t = t0 + r / p.n_rep;
    const int64_t h = g * p.n_rep + r % p.n_rep;
    const float* src = p.q + (t * p.H + h) * D;
    if (dot) {
      for (int64_t k = 0; k < D; ++k) b.qr[r * Dp + k] = src[k] * p.scale;
    } else {
      for (int64_t k = 0; k < D; ++k) b.qt[k * Rp + r] = src[k] * p.scale;
    }
    const int64_t qp = p.q_pos[t];
    const int64_t lo =
        p.W > 0 ? std::max<int64_t>(qp - p.W + 1,
                                    std::numeric_limits<int32_t>::min())
                : std::numeric_limits<int32_t>::min();
    b.lo[r] = static_cast<int32_t>(lo);
    b.hi[r] = static_cast<int32_t>(qp);
    b.lo_min = std::min(b.lo_min, b.lo[r]);
    b.hi_max = std::max(b.hi_max, b.hi[r]);
  }
}

// ScoresTile for DotScores blocks (decode: one query times the n_rep heads
// of a KV head): dot products along head_dim in kDotLanes virtual lanes
// (fixed_math-inl.h), the same bits on every target; four keys and one row
// at a time (two rows where the virtual lanes are one vector). Writes rows
// [0, R).
void ScoresTileDot(const Plan& p, const Block& b, int64_t nk_pad) {
  using DW = hn::CappedTag<float, kDotLanes>;
  using Acc = fixed::FixedAcc<kDotLanes, DW>;
  const DW dw;
  constexpr int64_t NW = hn::MaxLanes(dw);
  constexpr int64_t kVectors = kDotLanes / NW;
  constexpr int64_t kRows = kVectors == 1 ? 2 : 1;  // within 16 registers
  const int64_t Dp = p.Dp, Rp = b.Rp;
  for (int64_t r0 = 0; r0 < b.R; r0 += kRows) {
    const int64_t rows = std::min<int64_t>(kRows, b.R - r0);
    for (int64_t j = 0; j < nk_pad; j += 4) {
      Acc acc[kRows][4];
      for (int64_t dc = 0; dc < Dp; dc += kDotLanes) {
        for (int64_t v = 0; v < kVectors; ++v) {
          const int64_t off = dc + v * NW;
          hn::Vec<DW> kv[4];
          for (int k = 0; k < 4; ++k) kv[k] = hn::Load(dw, b.kf + (j + k) * Dp + off);
          for (int64_t i = 0; i < kRows; ++i) {
            const hn::Vec<DW> q = hn::Load(dw, b.qr + (r0 + i) * Dp + off);
            for (int k = 0; k < 4; ++k) acc[i][k].MulAdd(v, q, kv[k]);
          }
        }
      }
      for (int64_t i = 0; i < rows; ++i) {
        for (int k = 0; k < 4; ++k) b.s[(j + k) * Rp + r0 + i] = acc[i][k].FoldSum();
      }
    }
  }
}

// S[j][r] for j < nk_pad (a multiple of 4; kf rows past nk are zero):
// vectors across rows, keys broadcast.
void ScoresTile(const Plan& p, const Block& b, int64_t nk_pad) {
  const DF d;
  const int64_t N = hn::Lanes(d);
  if (DotScores(b)) return ScoresTileDot(p, b, nk_pad);
  const int64_t D = p.D, Dp = p.Dp, Rp = b.Rp, nrv = Rp / N;
  for (int64_t j = 0; j < nk_pad; j += 4) {
    const float* k0 = b.kf + j * Dp;
    const float* k1 = k0 + Dp;
    const float* k2 = k1 + Dp;
    const float* k3 = k2 + Dp;
    float* s0 = b.s + j * Rp;
    int64_t rv = 0;
    for (; rv + 2 <= nrv; rv += 2) {
      const float* qc = b.qt + rv * N;
      VF c00 = hn::Zero(d), c01 = hn::Zero(d), c10 = hn::Zero(d),
         c11 = hn::Zero(d), c20 = hn::Zero(d), c21 = hn::Zero(d),
         c30 = hn::Zero(d), c31 = hn::Zero(d);
      for (int64_t k = 0; k < D; ++k) {
        const VF q0 = hn::Load(d, qc + k * Rp);
        const VF q1 = hn::Load(d, qc + k * Rp + N);
        const VF b0 = hn::Set(d, k0[k]), b1 = hn::Set(d, k1[k]);
        const VF b2 = hn::Set(d, k2[k]), b3 = hn::Set(d, k3[k]);
        c00 = Fma(b0, q0, c00);
        c01 = Fma(b0, q1, c01);
        c10 = Fma(b1, q0, c10);
        c11 = Fma(b1, q1, c11);
        c20 = Fma(b2, q0, c20);
        c21 = Fma(b2, q1, c21);
        c30 = Fma(b3, q0, c30);
        c31 = Fma(b3, q1, c31);
      }
      float* o = s0 + rv * N;
      hn::Store(c00, d, o);
      hn::Store(c01, d, o + N);
      hn::Store(c10, d, o + Rp);
      hn::Store(c11, d, o + Rp + N);
      hn::Store(c20, d, o + 2 * Rp);
      hn::Store(c21, d, o + 2 * Rp + N);
      hn::Store(c30, d, o + 3 * Rp);
      hn::Store(c31, d, o + 3 * Rp + N);
    }
    if (rv < nrv) {
      const float* qc = b.qt + rv * N;
      VF c0 = hn::Zero(d), c1 = hn::Zero(d), c2 = hn::Zero(d),
         c3 = hn::Zero(d);
      for (int64_t k = 0; k < D; ++k) {
        const VF q0 = hn::Load(d, qc + k * Rp);
        c0 = Fma(hn::Set(d, k0[k]), q0, c0);
        c1 = Fma(hn::Set(d, k1[k]), q0, c1);
        c2 = Fma(hn::Set(d, k2[k]), q0, c2);
        c3 = Fma(hn::Set(d, k3[k]), q0, c3);
      }
      float* o = s0 + rv * N;
      hn::Store(c0, d, o);
      hn::Store(c1, d, o + Rp);
      hn::Store(c2, d, o + 2 * Rp);
      hn::Store(c3, d, o + 3 * Rp);
    }
  }
}

// Converts the K tile and computes its masked (and softcapped) scores:
// invisible entries become -inf. kpos: [nk] key positions.
void MaskedScores(const Plan& p, const Block& b, const int32_t* kpos,
                  int64_t k0, int64_t nk) {
  const DF d;
  const DI di;
  const int64_t N = hn::Lanes(d);
  const int64_t D = p.D, Rp = b.Rp;
  const int64_t nk_pad = RoundUp(nk, 4);
  const uint16_t* kbase = p.kv.Key(b.g, k0, p.units);  // tiles never straddle blocks
  for (int64_t j = 0; j < nk; ++j) {
    PromoteKvRow(p.kv.type, kbase + j * p.units, D, p.Dp, b.kf + j * p.Dp);
  }
  std::fill(b.kf + nk * p.Dp, b.kf + nk_pad * p.Dp, 0.f);
  ScoresTile(p, b, nk_pad);
  const bool cap = p.softcap > 0.f;
  const VF vcap = hn::Set(d, p.softcap), vinv = hn::Set(d, 1.f / p.softcap);
  const VF ninf = hn::Set(d, kNegInf);
  for (int64_t rv = 0; rv < Rp; rv += N) {
    const auto vlo = hn::Load(di, b.lo + rv);
    const auto vhi = hn::Load(di, b.hi + rv);
    for (int64_t j = 0; j < nk; ++j) {
      float* sp = b.s + j * Rp + rv;
      VF s = hn::Load(d, sp);
      if (cap) s = hn::Mul(vcap, fixed::TanhFixed(d, hn::Mul(s, vinv)));
      const auto kp = hn::Set(di, kpos[j]);
      const auto hidden = hn::Or(hn::Lt(kp, vlo), hn::Gt(kp, vhi));
      hn::Store(hn::IfThenElse(hn::RebindMask(d, hidden), ninf, s), d, sp);
    }
  }
}

// Online-softmax update of the rows' running max m and sum l for the tile.
// The masked scores in S are left as they are (sweep 2 may read them back).
void SoftmaxTile(const Block& b, int64_t nk) {
  const DF d;
  const int64_t N = hn::Lanes(d);
  const int64_t Rp = b.Rp;
  const VF ninf = hn::Set(d, kNegInf);
  for (int64_t rv = 0; rv < Rp; rv += N) {
    VF tmax = ninf;
    for (int64_t j = 0; j < nk; ++j) {
      tmax = hn::Max(tmax, hn::Load(d, b.s + j * Rp + rv));
    }
    if (hn::AllTrue(d, hn::Eq(tmax, ninf))) continue;  // nothing visible: m, l stay
    const VF m_old = hn::Load(d, b.m + rv);
    const VF m_new = hn::Max(m_old, tmax);
    // Rows still without any visible key keep m = -inf; subtracting 0 from
    // their -inf scores gives exp(-inf) = 0 instead of NaN.
    const VF m_safe = hn::IfThenZeroElse(hn::Eq(m_new, ninf), m_new);
    const VF alpha = ExpNeg(d, hn::Sub(m_old, m_safe));
    VF sum = hn::Zero(d);
    for (int64_t j = 0; j < nk; ++j) {
      sum = hn::Add(sum, ExpNeg(d, hn::Sub(hn::Load(d, b.s + j * Rp + rv), m_safe)));
    }
    hn::Store(m_new, d, b.m + rv);
    hn::Store(Fma(hn::Load(d, b.l + rv), alpha, sum), d, b.l + rv);
  }
}

// Rounds probabilities p in [0, 1] to bf16 (nearest even), in f32.
HWY_INLINE VF RoundProbabilityToBF16(DF d, VF p) {
  using DU = hn::RebindToUnsigned<DF>;
  const DU du;
  const auto bits = hn::BitCast(du, p);
  const auto lsb = hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1u));
  return hn::BitCast(d, hn::And(hn::Add(bits, hn::Add(hn::Set(du, 0x7FFFu), lsb)),
                                hn::Set(du, 0xFFFF0000u)));
}

// Rows [rv, rv + lanes) after sweep 1: the final max (0 where nothing is
// visible, so -inf scores give exp(-inf) = 0) and 1 / sum (0 where empty).
HWY_INLINE void FinalStats(const Block& b, int64_t rv, VF& m_safe, VF& inv) {
  const DF d;
  const VF m = hn::Load(d, b.m + rv);
  m_safe = hn::IfThenZeroElse(hn::Eq(m, hn::Set(d, kNegInf)), m);
  const VF l = hn::Load(d, b.l + rv);
  inv = hn::IfThenElseZero(hn::Gt(l, hn::Zero(d)), hn::Div(hn::Set(d, 1.f), l));
}

// Second pass: S -> P = exp(S - m) / l with the rows' final max m and sum l
// (rows without a visible key get P = 0), rounded to the values' type as
// ggml's softmax followed by its P.V product does (f16 for f16 values, bf16
// for bf16); q8_0 values meet unrounded P (ggml dequantises them to f32).
template <class Round>
HWY_INLINE void ProbabilitiesTileT(const Block& b, int64_t nk, Round round) {
  const DF d;
  const int64_t N = hn::Lanes(d);
  const int64_t Rp = b.Rp;
  for (int64_t rv = 0; rv < Rp; rv += N) {
    VF m_safe, inv;
    FinalStats(b, rv, m_safe, inv);
    for (int64_t j = 0; j < nk; ++j) {
      float* sp = b.s + j * Rp + rv;
      hn::Store(round(hn::Mul(ExpNeg(d, hn::Sub(hn::Load(d, sp), m_safe)), inv)), d, sp);
    }
  }
}

void ProbabilitiesTile(const Block& b, int64_t nk, GgmlType v_type) {
  const DF d;
  switch (v_type) {
    case GgmlType::kF16:
      return ProbabilitiesTileT(b, nk, [d](VF p) HWY_ATTR { return RoundProbabilityToF16(d, p); });
    case GgmlType::kBF16:
      return ProbabilitiesTileT(b, nk, [d](VF p) HWY_ATTR { return RoundProbabilityToBF16(d, p); });
    default:
      return ProbabilitiesTileT(b, nk, [](VF p) HWY_ATTR { return p; });
  }
}

// acc[r] += sum_{j < nk} P[j][r] * V[j] for all rows.
void AccumulateTile(const Plan& p, const Block& b, int64_t k0, int64_t nk) {
  const DF d;
  const int64_t N = hn::Lanes(d);
  const int64_t D = p.D, Dp = p.Dp, Rp = b.Rp;
  const uint16_t* vbase = p.kv.Value(b.g, k0, p.units);
  for (int64_t j = 0; j < nk; ++j) {
    PromoteKvRow(p.kv.type, vbase + j * p.units, D, Dp, b.vf + j * Dp);
  }
  const int64_t R4 = RoundUp(b.R, 4);  // <= Rp; padded rows have P = 0
  for (int64_t r = 0; r < R4; r += 4) {
    float* o0 = b.acc + r * Dp;
    float* o1 = o0 + Dp;
    float* o2 = o1 + Dp;
    float* o3 = o2 + Dp;
    const float* pr = b.s + r;
    int64_t dc = 0;
    for (; dc + 2 * N <= Dp; dc += 2 * N) {
      VF c00 = hn::Load(d, o0 + dc);
      VF c01 = hn::Load(d, o0 + dc + N);
      VF c10 = hn::Load(d, o1 + dc);
      VF c11 = hn::Load(d, o1 + dc + N);
      VF c20 = hn::Load(d, o2 + dc);
      VF c21 = hn::Load(d, o2 + dc + N);
      VF c30 = hn::Load(d, o3 + dc);
      VF c31 = hn::Load(d, o3 + dc + N);
      for (int64_t j = 0; j < nk; ++j) {
        const VF v0 = hn::Load(d, b.vf + j * Dp + dc);
        const VF v1 = hn::Load(d, b.vf + j * Dp + dc + N);
        const float* pj = pr + j * Rp;
        const VF p0 = hn::Set(d, pj[0]), p1 = hn::Set(d, pj[1]);
        const VF p2 = hn::Set(d, pj[2]), p3 = hn::Set(d, pj[3]);
        c00 = Fma(p0, v0, c00);
        c01 = Fma(p0, v1, c01);
        c10 = Fma(p1, v0, c10);
        c11 = Fma(p1, v1, c11);
        c20 = Fma(p2, v0, c20);
        c21 = Fma(p2, v1, c21);
        c30 = Fma(p3, v0, c30);
        c31 = Fma(p3, v1, c31);
      }
      hn::Store(c00, d, o0 + dc);
      hn::Store(c01, d, o0 + dc + N);
      hn::Store(c10, d, o1 + dc);
      hn::Store(c11, d, o1 + dc + N);
      hn::Store(c20, d, o2 + dc);
      hn::Store(c21, d, o2 + dc + N);
      hn::Store(c30, d, o3 + dc);
      hn::Store(c31, d, o3 + dc + N);
    }
    if (dc < Dp) {  // one vector left
      VF c0 = hn::Load(d, o0 + dc);
      VF c1 = hn::Load(d, o1 + dc);
      VF c2 = hn::Load(d, o2 + dc);
      VF c3 = hn::Load(d, o3 + dc);
      for (int64_t j = 0; j < nk; ++j) {
        const VF v0 = hn::Load(d, b.vf + j * Dp + dc);
        const float* pj = pr + j * Rp;
        c0 = Fma(hn::Set(d, pj[0]), v0, c0);
        c1 = Fma(hn::Set(d, pj[1]), v0, c1);
        c2 = Fma(hn::Set(d, pj[2]), v0, c2);
        c3 = Fma(hn::Set(d, pj[3]), v0, c3);
      }
      hn::Store(c0, d, o0 + dc);
      hn::Store(c1, d, o1 + dc);
      hn::Store(c2, d, o2 + dc);
      hn::Store(c3, d, o3 + dc);
    }
  }
}

// Whether any key of positions [tmin, tmax] can be visible to the block.
inline bool TileMayBeVisible(const Block& b, int32_t tmin, int32_t tmax) {
  return tmin <= b.hi_max && tmax >= b.lo_min;
}

inline void TileRange(const int32_t* kpos, int64_t nk, int32_t* tmin,
                      int32_t* tmax) {
  int32_t lo = std::numeric_limits<int32_t>::max();
  int32_t hi = std::numeric_limits<int32_t>::min();
  for (int64_t j = 0; j < nk; ++j) {
    lo = std::min(lo, kpos[j]);
    hi = std::max(hi, kpos[j]);
  }
  *tmin = lo;
  *tmax = hi;
}

// Where the window saliency goes while the main pass runs: the window rows'
// normalised probabilities (before the f16 rounding of P) are written by the
// work items that own those rows, in their second pass over the keys, then
// reduced in a fixed order. No extra pass over the keys.
struct WindowCapture {
  int64_t t_begin = 0;      // first window query
  int64_t w = 0;            // window rows
  float* probs = nullptr;   // [H][w][n] (the caller's rows, or scratch)
  float* last_logits = nullptr;  // [H][n] or null
};

// Pass 2 of a tile for a block holding window rows: copies the last query's
// masked scores (GemFilter) before they turn into probabilities.
void CaptureLastLogits(const Plan& p, const Block& b, int64_t k0, int64_t nk,
                       const WindowCapture& wc) {
  if (wc.last_logits == nullptr || b.t1 != p.n_q) return;
  const int64_t n = p.kv.n;
  for (int64_t hi = 0; hi < p.n_rep; ++hi) {
    const int64_t r = (b.t1 - 1 - b.t0) * p.n_rep + hi;  // the last query's row
    float* dst = wc.last_logits + (b.g * p.n_rep + hi) * n + k0;
    for (int64_t j = 0; j < nk; ++j) dst[j] = b.s[j * b.Rp + r];
  }
}

// Pass 2 of a tile for a block holding window rows: the window rows'
// probabilities exp(S - m) / l in f32, from the masked scores in b.s.
void CaptureWindowRows(const Plan& p, const Block& b, int64_t k0, int64_t nk,
                       const WindowCapture& wc) {
  const DF d;
  const int64_t N = hn::Lanes(d);
  const int64_t n = p.kv.n, Rp = b.Rp;
  HWY_ALIGN float e[kMaxLanes];
  const int64_t r_begin = std::max<int64_t>(0, wc.t_begin - b.t0) * p.n_rep;
  for (int64_t rv = r_begin / N * N; rv < b.R; rv += N) {
    VF m_safe, inv;
    FinalStats(b, rv, m_safe, inv);
    for (int64_t j = 0; j < nk; ++j) {
      hn::Store(hn::Mul(ExpNeg(d, hn::Sub(hn::Load(d, b.s + j * Rp + rv), m_safe)), inv),
                d, e);
      for (int64_t r = std::max(rv, r_begin); r < std::min(rv + N, b.R); ++r) {
        const int64_t i = b.t0 + r / p.n_rep - wc.t_begin;
        const int64_t h = b.g * p.n_rep + r % p.n_rep;
        wc.probs[(h * wc.w + i) * n + k0 + j] = e[r - rv];
      }
    }
  }
}

// Floats of a score cache for keys [k_begin, k_end) of a block with Rp
// rows: [RoundUp(keys, 4)][Rp] (ScoresTile writes whole groups of 4 keys).
inline int64_t ScoreCacheFloats(int64_t keys, int64_t Rp) {
  return RoundUp(keys, 4) * Rp;
}

// Sweep 1 over keys [k_begin, k_end): the rows' online max m and sum l.
// With a cache (ScoreCacheFloats(k_end - k_begin, Rp) floats) the masked
// scores are computed into it and kept for ValueSweep.
void StatsSweep(const Plan& p, Block& b, int64_t k_begin, int64_t k_end,
                float* cache) {
  float* const tile_s = b.s;
  for (int64_t k0 = k_begin; k0 < k_end; k0 += p.Bk) {
    const int64_t nk = std::min(p.Bk, k_end - k0);
    int32_t tmin, tmax;
    const int32_t* kpos = p.kv.Pos(b.g, k0);
    TileRange(kpos, nk, &tmin, &tmax);
    if (!TileMayBeVisible(b, tmin, tmax)) continue;
    if (cache != nullptr) b.s = cache + (k0 - k_begin) * b.Rp;
    MaskedScores(p, b, kpos, k0, nk);
    SoftmaxTile(b, nk);
  }
  b.s = tile_s;
}

// Sweep 2 over keys [k_begin, k_end) with the rows' final m and l: acc +=
// P V, P rounded as the values' type asks (ProbabilitiesTile); window rows
// are captured on the way when wc is given.
void ValueSweep(const Plan& p, Block& b, int64_t k_begin, int64_t k_end,
                const WindowCapture* wc, float* cache) {
  float* const tile_s = b.s;
  for (int64_t k0 = k_begin; k0 < k_end; k0 += p.Bk) {
    const int64_t nk = std::min(p.Bk, k_end - k0);
    int32_t tmin, tmax;
    const int32_t* kpos = p.kv.Pos(b.g, k0);
    TileRange(kpos, nk, &tmin, &tmax);
    if (!TileMayBeVisible(b, tmin, tmax)) continue;  // as in StatsSweep
    if (cache != nullptr) {
      b.s = cache + (k0 - k_begin) * b.Rp;  // sweep 1's masked scores
    } else {
      MaskedScores(p, b, kpos, k0, nk);
    }
    if (wc != nullptr) {
      CaptureLastLogits(p, b, k0, nk, *wc);
      CaptureWindowRows(p, b, k0, nk, *wc);
    }
    ProbabilitiesTile(b, nk, p.kv.type);
    AccumulateTile(p, b, k0, nk);
  }
  b.s = tile_s;
}

// Main pass for queries [t0, t1) of KV head g. Sweep 1 finds each row's
// final max and sum over its visible keys; sweep 2 turns scores into
// normalised probabilities, rounded like the values they weight (ggml's
// non-flash attention; llama.cpp's numerics), times V. The extra score
// sweep costs Q.K once more; the V pass stays single.
void AttendBlock(const Plan& p, int64_t g, int64_t t0, int64_t t1, float* out,
                 const WindowCapture* wc) {
  Block b;
  SetupBlock(p, g, t0, t1, b);
  std::fill(b.m, b.m + b.Rp, kNegInf);
  std::fill(b.l, b.l + b.Rp, 0.f);
  std::fill(b.acc, b.acc + b.Rp * p.Dp, 0.f);
  const int64_t cache_floats = ScoreCacheFloats(p.kv.n, b.Rp);
  float* cache = cache_floats <= kMaxCachedScores
                     ? tls_scratch.Cache(static_cast<size_t>(cache_floats))
                     : nullptr;
  StatsSweep(p, b, 0, p.kv.n, cache);
  ValueSweep(p, b, 0, p.kv.n, wc != nullptr && t1 > wc->t_begin ? wc : nullptr,
             cache);
  for (int64_t r = 0; r < b.R; ++r) {
    const int64_t t = t0 + r / p.n_rep;
    const int64_t h = g * p.n_rep + r % p.n_rep;
    float* dst = out + (t * p.H + h) * p.D;
    const float* src = b.acc + r * p.Dp;
    for (int64_t k = 0; k < p.D; ++k) dst[k] = src[k];
  }
}

// Keys per split of the split-key path: a multiple of every key tile.
constexpr int64_t kSplitKeys = 2048;

// Decode-shaped calls (all queries in one block per KV head, so only G work
// items) over long caches: both sweeps run on fixed key ranges of
// kSplitKeys in parallel (flash-decoding). Sweep 1's per-range max and sum
// are merged in range order; sweep 2 then normalises with the merged
// statistics, so the per-range P.V sums simply add, in range order. Ranges
// do not depend on the thread count, so neither do the results.
void AttendSplitKeys(const Plan& p, int64_t G, float* out) {
  const int64_t n = p.kv.n, S = (n + kSplitKeys - 1) / kSplitKeys;
  const int64_t R = p.n_q * p.n_rep, Dp = p.Dp;
  std::vector<float> ms(G * S * R), ls(G * S * R);  // [G][S][R] per-range stats
  std::vector<float> m(G * R), l(G * R);            // [G][R] merged
  std::vector<float> part(G * S * R * Dp);          // [G][S][R][Dp] per-range P.V
  const auto range = [&](int64_t s) {
    return std::pair{s * kSplitKeys, std::min(n, (s + 1) * kSplitKeys)};
  };
  // Each range's masked scores from sweep 1, for sweep 2 (which may run on
  // another thread): [G][S][ScoreCacheFloats(kSplitKeys, Rp)], unless that
  // is more than kMaxCachedScores per thread would allow.
  const int64_t per_range = ScoreCacheFloats(kSplitKeys, PaddedRows(R));
  const bool cached = G * S * per_range <=
                      kMaxCachedScores * static_cast<int64_t>(MaxThreads());
  hwy::AlignedFreeUniquePtr<float[]> caches =
      hwy::AllocateAligned<float>(cached ? static_cast<size_t>(G * S * per_range) : 0);
  const auto cache_of = [&](int64_t item) {
    return cached ? caches.get() + item * per_range : nullptr;
  };
  ParallelForDynamic(G * S, [&](int64_t item) HWY_ATTR {
    const int64_t g = item / S, s = item % S;
    Block b;
    SetupBlock(p, g, 0, p.n_q, b);
    std::fill(b.m, b.m + b.Rp, kNegInf);
    std::fill(b.l, b.l + b.Rp, 0.f);
    const auto [k_begin, k_end] = range(s);
    StatsSweep(p, b, k_begin, k_end, cache_of(item));
    std::copy_n(b.m, R, &ms[item * R]);
    std::copy_n(b.l, R, &ls[item * R]);
  });
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t r = 0; r < R; ++r) {
      float mx = kNegInf, sum = 0.f;
      for (int64_t s = 0; s < S; ++s) mx = std::max(mx, ms[(g * S + s) * R + r]);
      for (int64_t s = 0; mx != kNegInf && s < S; ++s) {
        const float ms_s = ms[(g * S + s) * R + r];
        if (ms_s != kNegInf) sum += ls[(g * S + s) * R + r] * std::exp(ms_s - mx);
      }
      m[g * R + r] = mx;
      l[g * R + r] = sum;
    }
  }
  ParallelForDynamic(G * S, [&](int64_t item) HWY_ATTR {
    const int64_t g = item / S, s = item % S;
    Block b;
    SetupBlock(p, g, 0, p.n_q, b);
    std::fill(b.m, b.m + b.Rp, kNegInf);  // padded rows: nothing visible
    std::fill(b.l, b.l + b.Rp, 0.f);
    std::copy_n(&m[g * R], R, b.m);
    std::copy_n(&l[g * R], R, b.l);
    std::fill(b.acc, b.acc + b.Rp * Dp, 0.f);
    const auto [k_begin, k_end] = range(s);
    ValueSweep(p, b, k_begin, k_end, nullptr, cache_of(item));
    std::copy_n(b.acc, R * Dp, &part[item * R * Dp]);
  });
  ParallelFor(G * R, [&](int64_t gr) {
    const int64_t g = gr / R, r = gr % R;
    const int64_t t = r / p.n_rep, h = g * p.n_rep + r % p.n_rep;
    float* dst = out + (t * p.H + h) * p.D;
    std::fill_n(dst, p.D, 0.f);
    for (int64_t s = 0; s < S; ++s) {
      const float* src = &part[((g * S + s) * R + r) * Dp];
      for (int64_t k = 0; k < p.D; ++k) dst[k] += src[k];
    }
  });
}

// scores[h][j] = sum (or max) over the window rows i of probs[h][i][j], in
// row order (deterministic), for heads [h0, h1).
void ReduceWindowRows(const WindowCapture& wc, int64_t n, bool take_max,
                      int64_t h0, int64_t h1, float* scores) {
  for (int64_t h = h0; h < h1; ++h) {
    float* dst = scores + h * n;
    std::fill_n(dst, n, 0.f);
    for (int64_t i = 0; i < wc.w; ++i) {
      const float* src = wc.probs + (h * wc.w + i) * n;
      if (take_max) {
        for (int64_t j = 0; j < n; ++j) dst[j] = std::max(dst[j], src[j]);
      } else {
        for (int64_t j = 0; j < n; ++j) dst[j] += src[j];
      }
    }
  }
}

void AttentionImpl(const AttentionShape& shape, const AttentionMask& mask,
                   float scale, const float* q, const int32_t* q_pos,
                   int64_t n_q, const KvView& kv, float* out,
                   const WindowSaliency* saliency) {
  SKV_CHECK(shape.n_heads > 0 && shape.n_kv_heads > 0 && shape.head_dim > 0);
  SKV_CHECK(shape.n_heads % shape.n_kv_heads == 0);
  SKV_CHECK(kv.n >= 0 && (kv.blocks != nullptr || kv.head_stride >= kv.n));
  if (n_q <= 0) return;
  const DF d;
  const int64_t N = hn::Lanes(d);
  Plan p;
  p.H = shape.n_heads;
  p.n_rep = shape.n_heads / shape.n_kv_heads;
  p.D = shape.head_dim;
  p.Dp = RoundUp(p.D, std::max<int64_t>(N, kDotLanes));
  // Key tile: about 8 KiB of f32 keys, a power of two in [16, 128] so that
  // it divides the KV store's block size.
  p.Bk = 16;
  while (p.Bk < 128 && 2 * p.Bk * p.D <= 8192) p.Bk *= 2;
  SKV_CHECK(kv.blocks == nullptr || kv.block_slots % p.Bk == 0);
  p.W = mask.sliding_window;
  p.softcap = mask.softcap;
  p.scale = scale;
  p.q = q;
  p.q_pos = q_pos;
  p.n_q = n_q;
  p.kv = kv;
  SKV_CHECK(IsKvCacheType(kv.type) && (kv.type != GgmlType::kQ8_0 || p.D % 32 == 0));
  p.units = KvRowUnits(kv.type, p.D);
  const int64_t G = shape.n_kv_heads;

  WindowCapture wc;
  const WindowCapture* wcp = nullptr;
  std::vector<float> probs_scratch;  // [H][w][n] when the caller wants no rows
  if (saliency != nullptr && saliency->window > 0 && kv.n > 0) {
    SKV_CHECK(saliency->scores != nullptr);
    wc.t_begin = std::max<int64_t>(0, n_q - saliency->window);
    wc.w = n_q - wc.t_begin;
    const size_t n_probs = static_cast<size_t>(p.H * wc.w * kv.n);
    if (saliency->rows != nullptr) {
      wc.probs = saliency->rows;
      std::fill_n(wc.probs, n_probs, 0.f);  // tiles no row sees stay 0
    } else {
      probs_scratch.assign(n_probs, 0.f);
      wc.probs = probs_scratch.data();
    }
    wc.last_logits = saliency->last_logits;
    if (wc.last_logits != nullptr) std::fill_n(wc.last_logits, p.H * kv.n, kNegInf);
    wcp = &wc;
  }

  const int64_t bq = std::min(n_q, std::max<int64_t>(1, kTargetRows / p.n_rep));
  const int64_t n_blocks = (n_q + bq - 1) / bq;
  // Decode over a long cache: a handful of work items would leave threads
  // idle, so split the keys instead (the choice depends on shapes only).
  if (n_blocks == 1 && G < 4 && wcp == nullptr && kv.n >= 2 * kSplitKeys) {
    AttendSplitKeys(p, G, out);
    return;
  }
  // Later query blocks see more keys under a causal mask: hand them out
  // first so the dynamic schedule ends balanced.
  ParallelForDynamic(G * n_blocks, [&](int64_t item) HWY_ATTR {
    const int64_t blk = n_blocks - 1 - item / G;
    const int64_t g = item % G;
    const int64_t t0 = blk * bq;
    AttendBlock(p, g, t0, std::min(n_q, t0 + bq), out, wcp);
  });

  if (wcp != nullptr) {
    ParallelRanges(p.H, 1, [&](int64_t h0, int64_t h1) {
      ReduceWindowRows(wc, kv.n, saliency->reduce_max, h0, h1, saliency->scores);
    });
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace skv
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace skv {

HWY_EXPORT(AttentionImpl);

bool IsKvCacheType(GgmlType type) {
  return type == GgmlType::kF16 || type == GgmlType::kBF16 || type == GgmlType::kQ8_0;
}

int64_t KvRowUnits(GgmlType type, int64_t dim) {
  return GgmlRowBytes(type, dim) / static_cast<int64_t>(sizeof(uint16_t));
}

void StoreKvRow(GgmlType type, const float* x, uint16_t* dst, int64_t n) {
  SKV_CHECK(IsKvCacheType(type) && (type != GgmlType::kQ8_0 || n % 32 == 0));
  if (type == GgmlType::kF16) return F32ToF16(x, dst, n);
  if (type == GgmlType::kBF16) return F32ToBF16(x, dst, n);
  uint8_t* b = reinterpret_cast<uint8_t*>(dst);
  float q[32];
  for (int64_t i = 0; i < n; i += 32, b += 34) {
    const uint16_t d = F32ToF16Bits(QuantizeBlockQ8_0(x + i, q));
    std::memcpy(b, &d, 2);
    for (int k = 0; k < 32; ++k) b[2 + k] = static_cast<uint8_t>(static_cast<int8_t>(q[k]));
  }
}

void Attention(const AttentionShape& shape, const AttentionMask& mask,
               float scale, const float* q, const int32_t* q_pos, int64_t n_q,
               const KvView& kv, float* out, const WindowSaliency* saliency) {
  HWY_DYNAMIC_DISPATCH(AttentionImpl)(shape, mask, scale, q, q_pos, n_q, kv,
                                      out, saliency);
}

}  // namespace skv
#endif  // HWY_ONCE
