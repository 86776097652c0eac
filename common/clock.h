#pragma once

#include <time.h>

#include <cstdint>

namespace finesse {

// Monotonic nanoseconds (vDSO: no syscall).
inline int64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// The same clock at the last timer tick (a few milliseconds old at most; vDSO without even
// reading the TSC): for deadlines of 100 ms and more checked on every call.
inline int64_t coarse_now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace finesse
