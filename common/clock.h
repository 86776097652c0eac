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

}  // namespace finesse
