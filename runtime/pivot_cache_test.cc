#include "runtime/pivot_cache.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace skv {
namespace {

std::string TempPath(const char* name) {
  const auto dir = std::filesystem::temp_directory_path() / "skv_pivot_cache_test";
  std::filesystem::create_directories(dir);
  const auto p = dir / name;
  std::filesystem::remove(p);
  return p.string();
}

TEST(PivotCache, CalibratesToTheMedianOfTheFirstPromptsAndPersists) {
  const std::string path = TempPath("pivots.json");
  auto cache = PivotCache::Load(path);
  ASSERT_TRUE(cache.ok());
  EXPECT_FALSE(cache->Pivot("m:1:18", 3000).has_value());
  ASSERT_TRUE(cache->Record("m:1:18", 3000, 11).ok());
  ASSERT_TRUE(cache->Record("m:1:18", 2500, 7).ok());  // same bucket (4096)
  EXPECT_FALSE(cache->Pivot("m:1:18", 4000).has_value());
  ASSERT_TRUE(cache->Record("m:1:18", 4096, 9).ok());
  ASSERT_TRUE(cache->Record("m:1:18", 4096, 2).ok());  // bucket complete: ignored
  EXPECT_EQ(cache->Pivot("m:1:18", 3000), 9);
  EXPECT_FALSE(cache->Pivot("m:1:18", 5000).has_value());  // bucket 8192
  EXPECT_FALSE(cache->Pivot("other:1:18", 3000).has_value());
  auto again = PivotCache::Load(path);  // what was written survives
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->Pivot("m:1:18", 3000), 9);
  EXPECT_EQ(again->Observed("m:1:18", 3000), 3);
}

TEST(PivotCache, CorruptFileIsAnErrorNamingIt) {
  const std::string path = TempPath("corrupt.json");
  std::ofstream(path) << "{not json";
  auto cache = PivotCache::Load(path);
  ASSERT_FALSE(cache.ok());
  EXPECT_NE(cache.status().message().find(path), std::string::npos);
}

TEST(PivotCache, LengthBuckets) {
  EXPECT_EQ(PivotLengthBucket(10), 1024);
  EXPECT_EQ(PivotLengthBucket(1025), 2048);
  EXPECT_EQ(PivotLengthBucket(32768), 32768);
}

}  // namespace
}  // namespace skv
