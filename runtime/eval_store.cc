#include "runtime/eval_store.h"

#include <fmt/core.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace skv {

StatusOr<ResultStore> ResultStore::Open(const std::string& path) {
  ResultStore store;
  store.path_ = path;
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return Status::Error(parent.string() + ": cannot create: " + ec.message());
  bool ends_with_newline = true;
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      const std::string text = ss.str();
      ends_with_newline = text.empty() || text.back() == '\n';
      std::istringstream lines(text);
      for (std::string line; std::getline(lines, line);) {
        if (line.empty()) continue;
        nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
        if (row.is_discarded() || !row.is_object() || !row.contains("key") ||
            !row["key"].is_string()) {
          ++store.ignored_lines_;
          continue;
        }
        if (store.keys_.insert(row["key"].get<std::string>()).second) {
          store.rows_.push_back(std::move(row));
        }
      }
    }
  }
  store.out_ = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::app);
  if (!*store.out_) {
    return Status::Error(path + ": cannot open for appending: " + std::strerror(errno));
  }
  // A line cut short by a kill must not swallow the next row.
  if (!ends_with_newline) *store.out_ << '\n';
  return store;
}

Status ResultStore::Append(const nlohmann::json& row) {
  if (!row.contains("key") || !row["key"].is_string()) {
    return Status::Error("result row without a key (internal)");
  }
  *out_ << row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  out_->flush();
  if (!*out_) return Status::Error(path_ + ": write failed: " + std::strerror(errno));
  keys_.insert(row["key"].get<std::string>());
  rows_.push_back(row);
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::Error(tmp + ": cannot write: " + std::strerror(errno));
    out << text;
    out.flush();
    if (!out) return Status::Error(tmp + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::Error(path + ": cannot replace: " + std::strerror(errno));
  }
  return Status::Ok();
}

ProgressBar::ProgressBar(int64_t total, int64_t already_done)
    : total_(total), done_(already_done), done_at_start_(already_done),
      start_(std::chrono::steady_clock::now()) {}

std::string ProgressBar::Render(const std::string& label, double elapsed_s) const {
  constexpr int kWidth = 24;
  const double frac = total_ > 0 ? static_cast<double>(done_) / total_ : 1.0;
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '.');
  const int64_t fresh = done_ - done_at_start_;
  std::string eta = "ETA --";
  std::string rate = "";
  if (fresh > 0 && elapsed_s > 0) {
    const double per = elapsed_s / fresh;
    const int64_t left = static_cast<int64_t>(per * (total_ - done_));
    eta = left >= 3600 ? fmt::format("ETA {}h{:02}m", left / 3600, (left / 60) % 60)
                       : fmt::format("ETA {}m{:02}s", left / 60, left % 60);
    rate = fmt::format(" {:.1f}s/it", per);
  }
  return fmt::format("[{}] {}/{} {:.0f}%{} {} {}", bar, done_, total_, 100 * frac, rate, eta,
                     label);
}

void ProgressBar::Advance(const std::string& label, int64_t n) {
  done_ += n;
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string line = Render(label, s);
  if (line.size() > 118) line.resize(118);
  fmt::print(stderr, "\r{:<118}", line);
  std::fflush(stderr);
}

void ProgressBar::Finish() { fmt::print(stderr, "\n"); }

}  // namespace skv
