// What a bypassed call came to, in one vocabulary (bpftrace's util/result.h is the model): a
// value the caller gets (0, a length), an error the caller gets (an errno), or Fallback: the
// kernel must serve the call, and nothing was done. Fallback is a type of its own, not a
// number among the errnos: a function that may fall back says so in its return type, and
// `return kToKernel;` is the only way to say it. On the channel it travels as
// wire::kFallback (to_wire/from_wire), the one place that number exists.
// Header-only, no allocation, no exceptions: the client is libc-only.
#pragma once

#include <cerrno>
#include <cstdint>

#include "wire.h"

namespace finesse {

struct Fallback {};
inline constexpr Fallback kToKernel{};

class [[nodiscard]] Result {
 public:
  // The kernel must serve the call.
  constexpr Result(Fallback) : v_(kFallbackCode) {}  // NOLINT: implicit by design
  // A libc-style outcome: a value >= 0, or -errno. Never a fallback (see above).
  constexpr Result(int64_t rc) : v_(rc) {}  // NOLINT: implicit by design
  constexpr Result(int rc) : v_(rc) {}      // NOLINT: implicit by design

  constexpr bool to_kernel() const { return v_ == kFallbackCode; }
  constexpr bool ok() const { return v_ >= 0; }
  constexpr bool failed() const { return v_ < 0 && v_ != kFallbackCode; }
  constexpr bool is_error(int errnum) const { return v_ == -static_cast<int64_t>(errnum); }
  // The value (ok()) or -errno (failed()); not for a fallback.
  constexpr int64_t rc() const { return v_; }

  // As a libc call returns it: the value, or -1 with errno set. Not for a fallback.
  template <typename R>
  R to_libc() const {
    if (failed()) {
      errno = static_cast<int>(-v_);
      return static_cast<R>(-1);
    }
    return static_cast<R>(v_);
  }

  // The channel's encoding (wire::Slot's result).
  constexpr int32_t to_wire() const {
    return to_kernel() ? wire::kFallback : static_cast<int32_t>(v_);
  }
  static constexpr Result from_wire(int64_t r) {
    return r == wire::kFallback ? Result(kToKernel) : Result(r);
  }

 private:
  static constexpr int64_t kFallbackCode = INT64_MIN;
  int64_t v_;
};

}  // namespace finesse
