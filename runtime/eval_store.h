// Where `structkv eval` keeps its results: one JSON object a line, appended
// and flushed as each sample finishes, so that a killed run loses at most
// the sample it was computing. Every row carries a `key` naming its full
// configuration; a restarted run skips the keys it finds. A line cut short
// by a kill is ignored (and its sample recomputed).
// Not thread-safe: one run owns a store.
#pragma once

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace skv {

class ResultStore {
 public:
  // Reads `path` if it exists (errors name it), creating its folder if not.
  static StatusOr<ResultStore> Open(const std::string& path);
  bool Done(const std::string& key) const { return keys_.count(key) != 0; }
  // Appends row (which must have a string "key") as one line and flushes.
  Status Append(const nlohmann::json& row);
  const std::vector<nlohmann::json>& rows() const { return rows_; }
  const std::string& path() const { return path_; }
  int64_t ignored_lines() const { return ignored_lines_; }

 private:
  std::string path_;
  std::unique_ptr<std::ofstream> out_;
  std::unordered_set<std::string> keys_;
  std::vector<nlohmann::json> rows_;  // [finished samples], file order
  int64_t ignored_lines_ = 0;         // malformed lines found on open
};

// Writes `text` to `path` through a temporary file and a rename, so readers
// never see half a file.
Status WriteFileAtomically(const std::string& path, const std::string& text);

// "[#######.....] 123/456 27% 1.3/s ETA 12m04s label" on stderr, redrawn in
// place; the rate counts only the work done by this run.
class ProgressBar {
 public:
  ProgressBar(int64_t total, int64_t already_done);
  void Advance(const std::string& label, int64_t n = 1);
  void Skip(int64_t n) { done_ += n; }  // finished before this run
  void Finish();
  // The bar's text (tests).
  std::string Render(const std::string& label, double elapsed_s) const;

 private:
  int64_t total_, done_, done_at_start_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace skv
