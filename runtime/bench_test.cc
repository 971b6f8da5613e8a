#include "runtime/bench.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "base/parallel.h"
#include "runtime/bandwidth.h"

namespace skv {
namespace {

TEST(BenchStats, MeanAndSampleStddev) {
  const std::vector<double> v = {2, 4, 4, 4, 5, 5, 7, 9};
  const SampleStats s = ComputeStats(v);
  EXPECT_EQ(s.n, 8);
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  // Sum of squared deviations 32, n - 1 = 7.
  EXPECT_NEAR(s.stddev, std::sqrt(32.0 / 7.0), 1e-12);
}

TEST(BenchStats, SingleAndEmpty) {
  const std::vector<double> one = {3.5};
  EXPECT_DOUBLE_EQ(ComputeStats(one).mean, 3.5);
  EXPECT_EQ(ComputeStats(one).stddev, 0.0);
  EXPECT_EQ(ComputeStats(std::vector<double>{}).n, 0);
}

TEST(BenchStats, NoCancellationForTinySpread) {
  const std::vector<double> v = {1e9 + 1, 1e9 + 2, 1e9 + 3};
  EXPECT_NEAR(ComputeStats(v).stddev, 1.0, 1e-6);
}

TEST(BenchParse, IntLists) {
  auto v = ParseIntList("512,4096", "-p", 0);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, (std::vector<int64_t>{512, 4096}));
  v = ParseIntList("0", "-d", 0);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, (std::vector<int64_t>{0}));
}

TEST(BenchParse, IntListErrorsNameTheFlagAndItem) {
  for (const char* bad : {"", "512,", ",512", "5x", "-1", "512,,4", "1.5", " 3"}) {
    auto v = ParseIntList(bad, "-p/--n-prompt", 0);
    ASSERT_FALSE(v.ok()) << "'" << bad << "'";
    EXPECT_NE(v.status().message().find("-p/--n-prompt"), std::string::npos)
        << v.status().message();
  }
  auto v = ParseIntList("4,-2", "-n", 1);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("'-2'"), std::string::npos)
      << v.status().message();
  EXPECT_FALSE(ParseIntList("0", "-r", 1).ok());
}

TEST(BenchParse, StringLists) {
  auto v = ParseStringList("a.gguf,b.gguf", "-m");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, (std::vector<std::string>{"a.gguf", "b.gguf"}));
  EXPECT_FALSE(ParseStringList("a.gguf,", "-m").ok());
  EXPECT_FALSE(ParseStringList("", "-m").ok());
}

TEST(BenchParse, TokenListRepeatsAndValidates) {
  auto ids = BenchTokensFromList("1, 2\n3", "ids.txt", 10, 7);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<int32_t>{1, 2, 3, 1, 2, 3, 1}));
  auto bad = BenchTokensFromList("1 10", "ids.txt", 10, 4);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("ids.txt"), std::string::npos);
  EXPECT_FALSE(BenchTokensFromList(" \n", "ids.txt", 10, 4).ok());
}

TEST(BenchPlan, NamesAndOrder) {
  const std::vector<int64_t> p = {512, 0}, n = {64}, d = {0, 4096};
  const std::vector<BenchTest> tests = PlanTests(p, n, d);
  ASSERT_EQ(tests.size(), 3u);
  EXPECT_EQ(tests[0].Name(), "pp512");
  EXPECT_EQ(tests[1].Name(), "tg64");
  EXPECT_EQ(tests[2].Name(), "tg64@d4096");
  EXPECT_TRUE(tests[2].is_decode());
  EXPECT_EQ(tests[2].depth, 4096);
}

TEST(BenchMeasure, WarmupIsNotRecorded) {
  int warmups = 0, calls = 0;
  auto tps = MeasureRepetitions(
      3,
      [&]() -> Status {
        EXPECT_EQ(calls, 0);  // the warm-up comes first
        ++warmups;
        return Status::Ok();
      },
      100, [&]() -> StatusOr<double> {
        ++calls;
        return 0.5;
      });
  ASSERT_TRUE(tps.ok());
  EXPECT_EQ(warmups, 1);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(*tps, (std::vector<double>{200, 200, 200}));
  // A failing warm-up fails the measurement.
  auto failed = MeasureRepetitions(
      1, [] { return Status::Error("warm-up failed"); }, 1,
      []() -> StatusOr<double> { return 1.0; });
  EXPECT_FALSE(failed.ok());
}

TEST(BenchMeasure, ErrorsPropagateAndRepsValidated) {
  auto failing = [] () -> StatusOr<double> { return Status::Error("boom"); };
  EXPECT_FALSE(MeasureRepetitions(2, nullptr, 1, failing).ok());
  auto ok = [] () -> StatusOr<double> { return 1.0; };
  auto r = MeasureRepetitions(0, nullptr, 1, ok);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("-r"), std::string::npos);
}

TEST(BenchRowSchema, JsonHasEveryKey) {
  BenchRow row;
  row.model_path = "m.gguf";
  row.test = "tg32@d512";
  row.tps_samples = {1, 2};
  row.bw_fraction = 0.25;
  const auto j = RowToJson(row);
  for (const char* key :
       {"model_path", "architecture", "model_bytes", "weight_bytes",
        "quant_type", "test", "n_prompt", "n_gen", "depth", "tps_mean",
        "tps_stddev", "tps_samples", "reps", "threads", "simd_target",
        "prefill_gemm", "numa_policy", "numa_nodes", "pinned", "peak_rss_bytes", "kv_bytes",
        "bytes_per_token", "bw_gbps", "bw_fraction", "prefill_gflop", "fma_peak_gflops",
        "compute_fraction"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["numa_policy"], "none");
  EXPECT_EQ(j["bw_fraction"], 0.25);
  row.bw_fraction = -1;  // not applicable: null, not a fake number
  EXPECT_TRUE(RowToJson(row)["bw_fraction"].is_null());
  const std::vector<BenchRow> rows = {row, row};
  EXPECT_EQ(RowsToJson(rows).size(), 2u);
}

TEST(BenchRowSchema, CsvHeaderMatchesJsonKeys) {
  BenchRow row;
  row.model_path = "dir,with,commas/m.gguf";
  row.tps_samples = {1.5, 2.5};
  const std::vector<BenchRow> rows = {row};
  const std::string csv = RowsToCsv(rows);
  const std::string header = csv.substr(0, csv.find('\n'));
  std::string expected;
  const auto json = RowToJson(row);  // named: items() must not outlive it
  for (const auto& [key, value] : json.items()) {
    expected += (expected.empty() ? "" : ",") + key;
  }
  EXPECT_EQ(header, expected);
  EXPECT_NE(csv.find("\"dir,with,commas/m.gguf\""), std::string::npos) << csv;
  EXPECT_NE(csv.find("1.5;2.5"), std::string::npos) << csv;
  EXPECT_NE(RowsToTable(rows).find("m.gguf"), std::string::npos);
}

TEST(BenchRowSchema, BandwidthFractionOnlyForDecodeRows) {
  std::vector<BenchRow> rows(2);
  rows[0].n_prompt = 512;  // pp: no per-token traffic model
  rows[0].tps_mean = 100;
  rows[1].n_gen = 32;
  rows[1].tps_mean = 10;
  rows[1].bytes_per_token = 2e8;
  ApplyBandwidth(8.0, rows);
  EXPECT_EQ(rows[0].bw_fraction, -1);
  EXPECT_DOUBLE_EQ(rows[1].bw_fraction, 2e8 * 10 / 8e9);
  EXPECT_EQ(rows[1].bw_gbps, 8.0);
  ApplyBandwidth(0.0, rows);  // probe skipped
  EXPECT_EQ(rows[1].bw_fraction, -1);
}

TEST(BenchRowSchema, ComputeFractionOnlyForPrefillRows) {
  std::vector<BenchRow> rows(2);
  rows[0].n_prompt = 500;
  rows[0].tps_mean = 100;
  rows[0].prefill_gflop = 1000;  // 2 GFLOP per token at 100 t/s: 200 GFLOP/s
  rows[1].n_gen = 32;
  rows[1].tps_mean = 10;
  ApplyComputePeak(400.0, rows);
  EXPECT_DOUBLE_EQ(rows[0].compute_fraction, 0.5);
  EXPECT_EQ(rows[1].compute_fraction, -1);
  EXPECT_EQ(rows[1].fma_peak_gflops, 400.0);
  EXPECT_TRUE(RowToJson(rows[1])["compute_fraction"].is_null());
  ApplyComputePeak(0.0, rows);  // probe skipped
  EXPECT_EQ(rows[0].compute_fraction, -1);
  EXPECT_NE(RowsToTable(rows).find("FMA %"), std::string::npos);
}

TEST(BenchRowSchema, TableColumnsStayAlignedForLongTargetNames) {
  std::vector<BenchRow> rows(2);
  rows[0].simd_target = "AVX3_SPR";  // Highway's longest x86 names
  rows[1].simd_target = "AVX3_ZEN4";
  rows[1].test = "tg64@d4096";
  std::istringstream table(RowsToTable(rows));
  std::vector<size_t> widths;
  for (std::string line; std::getline(table, line);) {
    // Columns, not bytes: "±" is two bytes of UTF-8.
    widths.push_back(static_cast<size_t>(std::count_if(
        line.begin(), line.end(), [](char ch) { return (ch & 0xC0) != 0x80; })));
  }
  ASSERT_EQ(widths.size(), 4u);
  for (size_t w : widths) EXPECT_EQ(w, widths[0]);
}

TEST(Bandwidth, SmallBufferGivesPositiveFiniteRate) {
  BandwidthOptions o;
  o.bytes = 8 << 20;
  o.runs = 2;
  auto bw = MeasureReadBandwidth(o);
  ASSERT_TRUE(bw.ok()) << bw.status().message();
  EXPECT_GT(bw->gb_per_s, 0.0);
  EXPECT_TRUE(std::isfinite(bw->gb_per_s));
  EXPECT_EQ(bw->bytes, 8 << 20);
  // Both passes read the same words over the same ranges, so their sinks are
  // equal and xor to zero: the loads happened and saw the initialised data.
  EXPECT_EQ(bw->checksum, 0u);
}

TEST(Bandwidth, RejectsTinyBuffer) {
  BandwidthOptions o;
  o.bytes = 100;
  auto bw = MeasureReadBandwidth(o);
  ASSERT_FALSE(bw.ok());
  EXPECT_NE(bw.status().message().find("--bw-bytes"), std::string::npos);
}

}  // namespace
}  // namespace skv
