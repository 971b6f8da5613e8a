#include "runtime/pivot_cache.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

namespace skv {
namespace {

using Json = nlohmann::json;

std::string BucketKey(int64_t n) { return std::to_string(PivotLengthBucket(n)); }

std::vector<int64_t> Observations(const Json& root, const std::string& model,
                                  int64_t n) {
  const auto m = root.find(model);
  if (m == root.end()) return {};
  const auto b = m->find(BucketKey(n));
  if (b == m->end()) return {};
  return b->value("observed", std::vector<int64_t>{});
}

}  // namespace

std::string DefaultPivotCachePath() {
  namespace fs = std::filesystem;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg) {
    return (fs::path(xdg) / "structkv" / "pivots.json").string();
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home != nullptr ? home : ".") / ".cache" / "structkv" / "pivots.json")
      .string();
}

std::string PivotModelKey(const Model& model) {
  const ModelConfig& c = model.config();
  const std::string name =
      c.name.empty() ? std::filesystem::path(model.file().path()).stem().string() : c.name;
  return name + ":" + std::to_string(model.file().file_size()) + ":" +
         std::to_string(c.n_layers);
}

int64_t PivotLengthBucket(int64_t n) {
  int64_t b = 1024;
  while (b < n) b *= 2;
  return b;
}

StatusOr<PivotCache> PivotCache::Load(const std::string& path) {
  PivotCache cache;
  cache.path_ = path;
  std::ifstream in(path);
  if (!in) {
    cache.json_text_ = "{}";
    return cache;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  cache.json_text_ = ss.str();
  const Json root = Json::parse(cache.json_text_, nullptr, false);
  if (root.is_discarded() || !root.is_object()) {
    return Status::Error("pivot cache '" + path +
                         "' is not a JSON object (delete it to recalibrate)");
  }
  return cache;
}

std::optional<int64_t> PivotCache::Pivot(const std::string& model_key,
                                         int64_t n) const {
  std::vector<int64_t> seen = Observations(Json::parse(json_text_), model_key, n);
  if (static_cast<int>(seen.size()) < kCalibrationPrompts) return std::nullopt;
  seen.resize(kCalibrationPrompts);
  std::sort(seen.begin(), seen.end());
  return seen[kCalibrationPrompts / 2];
}

int PivotCache::Observed(const std::string& model_key, int64_t n) const {
  return static_cast<int>(Observations(Json::parse(json_text_), model_key, n).size());
}

Status PivotCache::Record(const std::string& model_key, int64_t n, int64_t pivot) {
  Json root = Json::parse(json_text_);
  std::vector<int64_t> seen = Observations(root, model_key, n);
  if (static_cast<int>(seen.size()) >= kCalibrationPrompts) return Status::Ok();
  seen.push_back(pivot);
  root[model_key][BucketKey(n)]["observed"] = seen;
  const std::string text = root.dump(2) + "\n";
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path target(path_);
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) return Status::Error("cannot write pivot cache '" + tmp + "'");
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    return Status::Error("cannot replace pivot cache '" + path_ + "': " + ec.message());
  }
  json_text_ = text;
  return Status::Ok();
}

}  // namespace skv
