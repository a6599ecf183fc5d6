// Status and StatusOr<T>: how input and I/O failures travel (leveldb style).
// A Status is either OK or carries a message a user can act on.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "base/check.h"

namespace parley {

// What kind of failure a Status carries, for callers that map errors onto protocols
// (the server: kInvalidArgument and kOutOfRange -> 400, kUnavailable -> 503, others -> 500).
enum class StatusCode { kOk, kError, kInvalidArgument, kOutOfRange, kUnavailable, kCancelled };

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message), StatusCode::kError); }
  static Status InvalidArgument(std::string message) {
    return Status(std::move(message), StatusCode::kInvalidArgument);
  }
  // The input exceeds a fixed limit of its receiver (a prompt longer than the context):
  // an invalid argument a caller may want to tell apart; retrying will not help.
  static Status OutOfRange(std::string message) {
    return Status(std::move(message), StatusCode::kOutOfRange);
  }
  // A resource is exhausted for now (queue full, no KV pages); retrying later may work.
  static Status Unavailable(std::string message) {
    return Status(std::move(message), StatusCode::kUnavailable);
  }
  static Status Cancelled(std::string message) {
    return Status(std::move(message), StatusCode::kCancelled);
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Returns a copy whose message is prefixed with `context: ` (the code is kept).
  Status WithContext(const std::string& context) const {
    return ok() ? *this : Status(context + ": " + message_, code_);
  }

 private:
  Status(std::string message, StatusCode code) : message_(std::move(message)), code_(code) {}
  std::string message_;
  StatusCode code_ = StatusCode::kOk;
};

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT
    PARLEY_CHECK(!status_.ok()) << "StatusOr built from an OK status without a value";
  }
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & {
    PARLEY_CHECK(ok()) << status_.message();
    return *value_;
  }
  const T& value() const& {
    PARLEY_CHECK(ok()) << status_.message();
    return *value_;
  }
  T&& value() && {
    PARLEY_CHECK(ok()) << status_.message();
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace parley

#define PARLEY_CONCAT_INNER(a, b) a##b
#define PARLEY_CONCAT(a, b) PARLEY_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if `expr` failed.
#define PARLEY_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::parley::Status _st = (expr);            \
    if (!_st.ok()) return _st;                \
  } while (0)

// `PARLEY_ASSIGN_OR_RETURN(auto x, F())`: unwraps a StatusOr or returns its status.
#define PARLEY_ASSIGN_OR_RETURN(lhs, expr) \
  PARLEY_ASSIGN_OR_RETURN_IMPL(PARLEY_CONCAT(_sor_, __LINE__), lhs, expr)
#define PARLEY_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
