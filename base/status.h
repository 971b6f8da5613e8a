// Status and StatusOr: errors caused by the user or the environment (a bad
// file, flag or path) travel as values with a message that names the culprit.
// Broken internal invariants use SKV_CHECK (check.h) instead.
#pragma once

#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

#include "base/check.h"

namespace skv {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) {
    Status s;
    s.ok_ = false;
    s.message_ = std::move(message);
    return s;
  }
  bool ok() const { return ok_; }
  const std::string& message() const { return message_; }
  // Prepends context ("while loading X: ") to an error; no-op on success.
  Status Annotate(const std::string& context) const {
    if (ok_) return *this;
    return Error(context + ": " + message_);
  }

 private:
  bool ok_ = true;
  std::string message_;
};

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : value_(std::move(status)) {  // NOLINT: implicit
    SKV_CHECK(!std::get<Status>(value_).ok());
  }
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit

  bool ok() const { return std::holds_alternative<T>(value_); }
  Status status() const {
    return ok() ? Status::Ok() : std::get<Status>(value_);
  }
  T& value() & {
    SKV_CHECK(ok());
    return std::get<T>(value_);
  }
  const T& value() const& {
    SKV_CHECK(ok());
    return std::get<T>(value_);
  }
  T&& value() && {
    SKV_CHECK(ok());
    return std::get<T>(std::move(value_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<Status, T> value_;
};

}  // namespace skv

#define SKV_CONCAT_INNER(a, b) a##b
#define SKV_CONCAT(a, b) SKV_CONCAT_INNER(a, b)

#define SKV_RETURN_IF_ERROR(expr)                 \
  do {                                            \
    ::skv::Status skv_status_tmp_ = (expr);       \
    if (!skv_status_tmp_.ok()) return skv_status_tmp_; \
  } while (0)

#define SKV_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#define SKV_ASSIGN_OR_RETURN(lhs, expr) \
  SKV_ASSIGN_OR_RETURN_IMPL(SKV_CONCAT(skv_statusor_, __LINE__), lhs, expr)
