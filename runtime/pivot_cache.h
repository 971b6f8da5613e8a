// `--pivot calibrated`: StructKV's pivot as the median of the pivots that
// online detection chose on the first few prompts of a model and length
// bucket, cached in a JSON file. Until a bucket has seen kCalibrationPrompts
// prompts, requests run online detection and add their pivot to it; after
// that the bucket's median is fixed and requests skip the pivot metrics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "models/model.h"

namespace skv {

constexpr int kCalibrationPrompts = 3;

// $XDG_CACHE_HOME/structkv/pivots.json, or ~/.cache/structkv/pivots.json.
std::string DefaultPivotCachePath();

// Identifies a model file: its name, size and depth.
std::string PivotModelKey(const Model& model);
// Length bucket of an n-token prompt: the next power of two (>= 1024).
int64_t PivotLengthBucket(int64_t n);

class PivotCache {
 public:
  // A missing file is an empty cache; an unreadable or corrupt one is an
  // error that names the file.
  static StatusOr<PivotCache> Load(const std::string& path);

  // The calibrated pivot, once the bucket has enough prompts.
  std::optional<int64_t> Pivot(const std::string& model_key, int64_t n) const;
  // Prompts recorded for the bucket so far.
  int Observed(const std::string& model_key, int64_t n) const;
  // Adds a prompt's online pivot (ignored once the bucket is complete) and
  // writes the file (atomically: a temporary file renamed over it).
  Status Record(const std::string& model_key, int64_t n, int64_t pivot);

 private:
  std::string path_;
  std::string json_text_;  // the whole file, kept as text between calls
};

}  // namespace skv
