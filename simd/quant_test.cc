// Tests for the GGML type table, the scalar reference dequantisers (against
// golden files made by gguf-py, see tools/make_quant_golden.py) and the
// Highway kernels (against the reference, on every compiled target).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "base/parallel.h"
#include "gtest/gtest.h"
#include "hwy/targets.h"
#include "simd/ggml_types.h"
#include "simd/quant.h"
#include "simd/quant_internal.h"

namespace skv {
namespace {

constexpr float kEps = 1.1920929e-07f;  // f32 machine epsilon

const GgmlType kComputable[] = {
    GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ4_0,
    GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ8_0,
    GgmlType::kQ2_K, GgmlType::kQ3_K, GgmlType::kQ4_K, GgmlType::kQ5_K,
    GgmlType::kQ6_K};

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Bit-equal, or both nan (nan payloads differ between conversion paths).
bool SameFloat(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || Bits(a) == Bits(b);
}

// Runs fn once per Highway target compiled into this binary and supported by
// the CPU, with dynamic dispatch forced to that target.
template <class Fn>
void ForEachTarget(const Fn& fn) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    ASSERT_STREQ(ActiveSimdTarget(), hwy::TargetName(target));
    fn();
  }
  hwy::SetSupportedTargetsForTest(0);
}

// Expects bit-equal float arrays; reports the first mismatch.
void ExpectSameFloats(const std::string& what, const float* got,
                      const float* want, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!SameFloat(got[i], want[i])) {
      ADD_FAILURE() << what << ": element " << i << " of " << n << " got "
                    << got[i] << " (0x" << std::hex << Bits(got[i])
                    << ") want " << std::dec << want[i] << " (0x" << std::hex
                    << Bits(want[i]) << ")";
      return;
    }
  }
}

// Fills the fp16 scale fields of each block with finite values of a sane
// range (random bytes elsewhere), so every code path sees arbitrary codes.
void SetScaleFields(GgmlType type, uint8_t* block, std::mt19937& rng) {
  std::vector<int> offsets;
  switch (type) {
    case GgmlType::kQ4_0: case GgmlType::kQ5_0: case GgmlType::kQ8_0:
      offsets = {0}; break;
    case GgmlType::kQ4_1: case GgmlType::kQ5_1: case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
      offsets = {0, 2}; break;
    case GgmlType::kQ2_K: offsets = {80, 82}; break;
    case GgmlType::kQ3_K: offsets = {108}; break;
    case GgmlType::kQ6_K: offsets = {208}; break;
    default: return;
  }
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  for (int off : offsets) {
    const uint16_t h = F32ToF16Bits(u(rng));
    std::memcpy(block + off, &h, 2);
  }
}

// Random row data of `rows` x `n` elements of `type` (finite values only).
std::vector<uint8_t> RandomRows(GgmlType type, int64_t rows, int64_t n,
                                std::mt19937& rng) {
  const GgmlTypeTraits& t = GetGgmlType(type);
  const int64_t row_bytes = GgmlRowBytes(type, n);
  std::vector<uint8_t> data(static_cast<size_t>(rows * row_bytes));  // [rows][row_bytes]
  std::normal_distribution<float> normal(0.0f, 1.0f);
  if (type == GgmlType::kF32 || type == GgmlType::kF16 || type == GgmlType::kBF16) {
    for (int64_t i = 0; i < rows * n; ++i) {
      const float v = normal(rng);
      if (type == GgmlType::kF32) {
        std::memcpy(data.data() + 4 * i, &v, 4);
      } else {
        const uint16_t h = type == GgmlType::kF16 ? F32ToF16Bits(v)
                                                  : quant_internal::F32ToBF16Bits(v);
        std::memcpy(data.data() + 2 * i, &h, 2);
      }
    }
    return data;
  }
  for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < n / t.block_size; ++b) {
      SetScaleFields(type, data.data() + r * row_bytes + b * t.type_size, rng);
    }
  }
  return data;
}

std::vector<float> RandomVector(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));  // [n]
  for (float& v : x) v = normal(rng);
  return x;
}

// Tolerance for an f32-accumulated dot: the weights are dequantised exactly
// like the reference, so only the summation order differs; its error is
// bounded by a few eps * sqrt(n) * sum |w_i x_i| for random data.
double DotTolerance(GgmlType type, const uint8_t* row, const float* x, int64_t n) {
  std::vector<float> w(static_cast<size_t>(n));  // [n]
  DequantizeRowRef(type, row, w.data(), n);
  double abs_sum = 0.0;
  for (int64_t i = 0; i < n; ++i) abs_sum += std::fabs(static_cast<double>(w[i]) * x[i]);
  return kEps * (2.0 * std::sqrt(static_cast<double>(n)) + 4.0) * abs_sum + 1e-30;
}

// Checks DequantizeRow, DequantizeRowBF16, DotRow and MatVec against the
// reference for `rows` rows of data (on the currently dispatched target).
void CheckKernels(GgmlType type, const uint8_t* data, int64_t rows, int64_t n,
                  const float* x) {
  const int64_t row_bytes = GgmlRowBytes(type, n);
  const std::string name = GgmlTypeName(type);
  std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));  // [n]
  std::vector<float> y(static_cast<size_t>(rows), -1.0f);  // [rows]
  std::vector<uint16_t> got_bf16(static_cast<size_t>(n)),
      want_bf16(static_cast<size_t>(n));  // [n] bf16 bits
  MatVec(type, data, row_bytes, x, n, y.data(), rows);
  double worst = 0.0;
  int64_t worst_row = -1;
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = data + r * row_bytes;
    DequantizeRowRef(type, row, want.data(), n);
    DequantizeRow(type, row, got.data(), n);
    ExpectSameFloats(name + " DequantizeRow row " + std::to_string(r), got.data(),
                     want.data(), n);
    // bf16 output: the reference rounding of the exact row, bit for bit.
    DequantizeRowBF16(type, row, got_bf16.data(), n);
    DequantizeRowBF16Ref(type, row, want_bf16.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t rounded = quant_internal::F32ToBF16Bits(want[i]);
      if (got_bf16[i] != want_bf16[i] || want_bf16[i] != rounded) {
        ADD_FAILURE() << name << " DequantizeRowBF16 row " << r << " element "
                      << i << " of " << n << ": got 0x" << std::hex
                      << got_bf16[i] << " ref 0x" << want_bf16[i]
                      << " rounded f32 0x" << rounded;
        break;
      }
    }
    const double ref = DotRowRef(type, row, x, n);
    const double tol = DotTolerance(type, row, x, n);
    const double dot_err = std::fabs(DotRow(type, row, x, n) - ref);
    const double mv_err = std::fabs(y[r] - ref);
    EXPECT_LE(dot_err, tol) << name << " DotRow row " << r << " n " << n
                            << " ref " << ref;
    const double rel = mv_err / tol;
    if (rel > worst) {
      worst = rel;
      worst_row = r;
    }
  }
  EXPECT_LE(worst, 1.0) << name << " MatVec worst row " << worst_row << " of "
                        << rows << " (n " << n << "): got " << y[worst_row]
                        << " ref " << DotRowRef(type, data + worst_row * row_bytes, x, n);
}

// ------------------------------------------------------------------ type table

TEST(GgmlTypesTest, BlockGeometryMatchesGgml) {
  struct Want {
    GgmlType type;
    int64_t block, bytes;
  };
  const Want wants[] = {
      {GgmlType::kF32, 1, 4},     {GgmlType::kF16, 1, 2},
      {GgmlType::kBF16, 1, 2},    {GgmlType::kQ4_0, 32, 18},
      {GgmlType::kQ4_1, 32, 20},  {GgmlType::kQ5_0, 32, 22},
      {GgmlType::kQ5_1, 32, 24},  {GgmlType::kQ8_0, 32, 34},
      {GgmlType::kQ8_1, 32, 36},  {GgmlType::kQ2_K, 256, 84},
      {GgmlType::kQ3_K, 256, 110}, {GgmlType::kQ4_K, 256, 144},
      {GgmlType::kQ5_K, 256, 176}, {GgmlType::kQ6_K, 256, 210},
      {GgmlType::kQ8_K, 256, 292}, {GgmlType::kI8, 1, 1},
      {GgmlType::kI16, 1, 2},     {GgmlType::kI32, 1, 4},
      {GgmlType::kI64, 1, 8},     {GgmlType::kF64, 1, 8}};
  for (const Want& w : wants) {
    const GgmlTypeTraits* t = FindGgmlType(static_cast<uint32_t>(w.type));
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->block_size, w.block) << t->name;
    EXPECT_EQ(t->type_size, w.bytes) << t->name;
  }
  EXPECT_EQ(FindGgmlType(4), nullptr);  // removed Q4_2
  EXPECT_EQ(FindGgmlType(1000), nullptr);
  EXPECT_STREQ(GgmlTypeName(GgmlType::kQ4_K), "q4_K");
  EXPECT_EQ(GgmlRowBytes(GgmlType::kQ4_K, 2048), 8 * 144);
  EXPECT_EQ(GgmlRowBytes(GgmlType::kQ8_0, 640), 20 * 34);
  EXPECT_EQ(GgmlRowBytes(GgmlType::kF16, 7), 14);
  for (GgmlType type : kComputable) EXPECT_TRUE(GetGgmlType(type).can_compute);
  EXPECT_FALSE(GetGgmlType(GgmlType::kQ8_K).can_compute);
  const std::string names = ComputableGgmlTypeNames();
  EXPECT_NE(names.find("q6_K"), std::string::npos) << names;
  EXPECT_EQ(names.find("i32"), std::string::npos) << names;
}

// ------------------------------------------------------------------ 16-bit floats

TEST(QuantTest, F16BitsToF32AllPatterns) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const int exp = (h >> 10) & 0x1F;
    const int mant = h & 0x3FF;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    double want;
    if (exp == 0) {
      want = sign * std::ldexp(mant, -24);
    } else if (exp == 31) {
      want = mant ? NAN : sign * INFINITY;
    } else {
      want = sign * std::ldexp(1024 + mant, exp - 25);
    }
    const float got = F16BitsToF32(static_cast<uint16_t>(h));
    ASSERT_TRUE(SameFloat(got, static_cast<float>(want))) << "half 0x" << std::hex << h;
    if (!std::isnan(got)) {
      ASSERT_EQ(F32ToF16Bits(got), h) << "round trip of half 0x" << std::hex << h;
    }
  }
}

TEST(QuantTest, F32ToF16RoundsToNearestEven) {
  // Brute force over a spread of f32 bit patterns: the result must be the
  // closest half, ties to the even mantissa.
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) {
    uint32_t u = rng();
    if (i % 2) u = (u & 0x8FFFFFFFu) | 0x30000000u;  // bias to the half range
    float f;
    std::memcpy(&f, &u, 4);
    if (std::isnan(f)) continue;
    const uint16_t h = F32ToF16Bits(f);
    const double got = F16BitsToF32(h);
    const double fd = f;
    if (std::fabs(fd) >= 65520.0) {
      ASSERT_TRUE(std::isinf(got) && (got > 0) == (fd > 0)) << f;
      continue;
    }
    // Neighbouring halves of the result (towards and away from zero).
    const uint16_t mag = h & 0x7FFF;
    for (int delta : {-1, 1}) {
      const int nb = mag + delta;
      if (nb < 0 || nb > 0x7BFF) continue;
      const double other = std::copysign(F16BitsToF32(static_cast<uint16_t>(nb)), fd);
      const double e_got = std::fabs(got - fd), e_other = std::fabs(other - fd);
      ASSERT_TRUE(e_got < e_other || (e_got == e_other && (mag & 1) == 0))
          << "f " << f << " -> 0x" << std::hex << h;
    }
  }
}

TEST(QuantTest, VectorConversionsMatchScalarOnEveryTarget) {
  std::mt19937 rng(11);
  std::vector<uint16_t> halves(65536 + 37);  // [65536 + tail] every pattern
  for (size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<uint16_t>(i);
  std::vector<float> floats(70001);  // [n] random bits plus specials
  for (float& f : floats) {
    const uint32_t u = (rng() & 0x8FFFFFFFu) | ((rng() % 3 == 0) ? 0x70000000u : 0x30000000u);
    std::memcpy(&f, &u, 4);
  }
  const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 65504.0f,
                            65520.0f, 5.9604645e-08f, 2.9802322e-08f, 1e-45f};
  std::copy(std::begin(specials), std::end(specials), floats.begin());
  ForEachTarget([&] {
    for (int64_t n : {int64_t{1}, int64_t{3}, int64_t{17}, int64_t{65573}}) {
      std::vector<float> got(n), want(n);
      F16ToF32(halves.data(), got.data(), n);
      for (int64_t i = 0; i < n; ++i) want[i] = F16BitsToF32(halves[i]);
      ExpectSameFloats("F16ToF32", got.data(), want.data(), n);
      BF16ToF32(halves.data(), got.data(), n);
      for (int64_t i = 0; i < n; ++i) want[i] = quant_internal::BF16BitsToF32(halves[i]);
      ExpectSameFloats("BF16ToF32", got.data(), want.data(), n);
    }
    for (int64_t n : {int64_t{2}, int64_t{15}, int64_t{70001}}) {
      std::vector<uint16_t> h(n), b(n);
      F32ToF16(floats.data(), h.data(), n);
      F32ToBF16(floats.data(), b.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_TRUE(SameFloat(F16BitsToF32(h[i]), F16BitsToF32(F32ToF16Bits(floats[i]))))
            << "F32ToF16 element " << i << " of " << floats[i];
        ASSERT_EQ(b[i], quant_internal::F32ToBF16Bits(floats[i]))
            << "F32ToBF16 element " << i << " of " << floats[i];
      }
    }
  });
}

// ------------------------------------------------------------------ golden files

struct Golden {
  GgmlType type;
  int64_t rows = 0, n = 0, row_bytes = 0;
  std::vector<float> source;    // [rows][n] (16-bit float files only)
  std::vector<uint8_t> raw;     // [rows][row_bytes]
  std::vector<float> expected;  // [rows][n]
};

bool ReadGolden(const std::string& name, Golden* g) {
  const std::string path = std::string(SKV_SOURCE_DIR) + "/tests/golden/quant/" + name + ".bin";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "missing golden file " << path
                  << " (regenerate with tools/make_quant_golden.py)";
    return false;
  }
  char magic[4];
  uint32_t h[6];
  in.read(magic, 4);
  in.read(reinterpret_cast<char*>(h), sizeof(h));
  if (!in || std::memcmp(magic, "SKVQ", 4) != 0 || h[0] != 1) {
    ADD_FAILURE() << "bad header in " << path;
    return false;
  }
  g->type = static_cast<GgmlType>(h[1]);
  g->rows = h[2];
  g->n = h[3];
  g->row_bytes = h[4];
  const size_t count = static_cast<size_t>(g->rows * g->n);
  if (h[5]) {
    g->source.resize(count);
    in.read(reinterpret_cast<char*>(g->source.data()), count * 4);
  }
  g->raw.resize(static_cast<size_t>(g->rows * g->row_bytes));
  in.read(reinterpret_cast<char*>(g->raw.data()), g->raw.size());
  g->expected.resize(count);
  in.read(reinterpret_cast<char*>(g->expected.data()), count * 4);
  if (!in || in.peek() != EOF) {
    ADD_FAILURE() << "truncated or oversized golden file " << path;
    return false;
  }
  EXPECT_EQ(g->row_bytes, GgmlRowBytes(g->type, g->n)) << path;
  return true;
}

const char* const kGoldenNames[] = {"f16",  "bf16", "q4_0", "q4_1",
                                    "q5_0", "q5_1", "q8_0", "q2_k",
                                    "q3_k", "q4_k", "q5_k", "q6_k"};

TEST(QuantGoldenTest, ReferenceMatchesGgufPy) {
  for (const char* name : kGoldenNames) {
    SCOPED_TRACE(name);
    Golden g;
    if (!ReadGolden(name, &g)) continue;
    std::vector<float> got(static_cast<size_t>(g.n));  // [n]
    for (int64_t r = 0; r < g.rows; ++r) {
      DequantizeRowRef(g.type, g.raw.data() + r * g.row_bytes, got.data(), g.n);
      ExpectSameFloats(std::string(name) + " row " + std::to_string(r), got.data(),
                       g.expected.data() + r * g.n, g.n);
    }
  }
}

TEST(QuantGoldenTest, F32To16BitMatchesGgufPy) {
  for (const char* name : {"f16", "bf16"}) {
    SCOPED_TRACE(name);
    Golden g;
    if (!ReadGolden(name, &g)) continue;
    ASSERT_EQ(g.source.size(), static_cast<size_t>(g.rows * g.n));
    for (size_t i = 0; i < g.source.size(); ++i) {
      uint16_t want;
      std::memcpy(&want, g.raw.data() + 2 * i, 2);
      const float f = g.source[i];
      const uint16_t got = g.type == GgmlType::kF16 ? F32ToF16Bits(f)
                                                    : quant_internal::F32ToBF16Bits(f);
      if (std::isnan(f)) {
        EXPECT_TRUE(std::isnan(g.type == GgmlType::kF16 ? F16BitsToF32(got)
                                                        : quant_internal::BF16BitsToF32(got)));
      } else {
        EXPECT_EQ(got, want) << "element " << i << " value " << f;
      }
    }
  }
}

TEST(QuantGoldenTest, KernelsMatchReferenceOnEveryTarget) {
  std::mt19937 rng(3);
  ForEachTarget([&] {
    for (const char* name : kGoldenNames) {
      SCOPED_TRACE(name);
      Golden g;
      if (!ReadGolden(name, &g)) continue;
      if (std::string(name) == "f16" || std::string(name) == "bf16") {
        // The edge-case rows hold inf/nan; dots over them are meaningless,
        // so only the dequantisation is compared.
        std::vector<float> got(static_cast<size_t>(g.n));
        for (int64_t r = 0; r < g.rows; ++r) {
          DequantizeRow(g.type, g.raw.data() + r * g.row_bytes, got.data(), g.n);
          ExpectSameFloats(std::string(name) + " DequantizeRow", got.data(),
                           g.expected.data() + r * g.n, g.n);
        }
        continue;
      }
      const std::vector<float> x = RandomVector(g.n, rng);
      CheckKernels(g.type, g.raw.data(), g.rows, g.n, x.data());
    }
  });
}

// ------------------------------------------------------------------ random blocks

TEST(QuantTest, RandomBlocksOnEveryTarget) {
  std::mt19937 rng(5);
  ForEachTarget([&] {
    for (GgmlType type : kComputable) {
      SCOPED_TRACE(GgmlTypeName(type));
      const int64_t bs = GetGgmlType(type).block_size;
      // Lengths: one block, odd block counts, and plain lengths with tails.
      std::vector<int64_t> lengths = {bs, 3 * bs, 9 * bs};
      if (bs == 1) lengths = {1, 5, 15, 16, 17, 63, 64, 65, 127, 640, 1031};
      for (int64_t n : lengths) {
        const int64_t rows = 7;
        const std::vector<uint8_t> data = RandomRows(type, rows, n, rng);
        const std::vector<float> x = RandomVector(n, rng);
        CheckKernels(type, data.data(), rows, n, x.data());
      }
    }
  });
}

TEST(QuantTest, MatVecIndependentOfThreadCountAndStride) {
  std::mt19937 rng(9);
  const int saved = MaxThreads();
  for (GgmlType type : {GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ6_K,
                        GgmlType::kF16, GgmlType::kQ5_0}) {
    SCOPED_TRACE(GgmlTypeName(type));
    const int64_t n = 512, rows = 301;
    // Padded rows: row_bytes larger than the packed size must be honoured.
    const int64_t packed = GgmlRowBytes(type, n), stride = packed + 64;
    const std::vector<uint8_t> dense = RandomRows(type, rows, n, rng);
    std::vector<uint8_t> padded(static_cast<size_t>(rows * stride), 0xAB);  // [rows][stride]
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(padded.data() + r * stride, dense.data() + r * packed, packed);
    }
    const std::vector<float> x = RandomVector(n, rng);
    std::vector<float> y1(rows), y3(rows), yp(rows);  // [rows]
    SetThreads(1);
    MatVec(type, dense.data(), packed, x.data(), n, y1.data(), rows);
    SetThreads(3);
    MatVec(type, dense.data(), packed, x.data(), n, y3.data(), rows);
    MatVec(type, padded.data(), stride, x.data(), n, yp.data(), rows);
    SetThreads(saved);
    ExpectSameFloats("threads 1 vs 3", y3.data(), y1.data(), rows);
    ExpectSameFloats("padded rows", yp.data(), y1.data(), rows);
  }
}

// The float path (dequantise and multiply: every type without an integer
// kernel, and all types through DotRow / MatVec on f32 activations) gives
// the same bits on every target (simd/fixed_math-inl.h).
TEST(QuantTest, FloatPathSameBitsOnEveryTarget) {
  std::mt19937 rng(10);
  for (GgmlType type : kComputable) {
    SCOPED_TRACE(GgmlTypeName(type));
    const int64_t bs = GetGgmlType(type).block_size;
    for (int64_t n : bs == 1 ? std::vector<int64_t>{17, 64, 130, 1031}
                             : std::vector<int64_t>{bs, 3 * bs, 8 * bs}) {
      const int64_t rows = 5, rb = GgmlRowBytes(type, n);
      const std::vector<uint8_t> w = RandomRows(type, rows, n, rng);
      const std::vector<float> x = RandomVector(n, rng);
      std::vector<float> first;
      ForEachTarget([&] {
        std::vector<float> y(rows);  // [rows]
        MatVec(type, w.data(), rb, x.data(), n, y.data(), rows);
        for (int64_t r = 0; r < rows; ++r) y.push_back(DotRow(type, w.data() + r * rb, x.data(), n));
        if (first.empty()) first = y;
        ExpectSameFloats("not the first target's bits", y.data(), first.data(),
                         static_cast<int64_t>(y.size()));
      });
    }
  }
}

TEST(QuantTest, ActiveTargetIsNamed) {
  const std::string name = ActiveSimdTarget();
  EXPECT_FALSE(name.empty());
  std::printf("active SIMD target: %s; tested:", name.c_str());
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    std::printf(" %s", hwy::TargetName(target));
  }
  std::printf("\n");
}

}  // namespace
}  // namespace skv
