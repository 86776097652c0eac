// What the server counts (reported to finesse-loader stats through the control socket).
#pragma once

#include <atomic>
#include <cstdint>

#include "wire.h"

namespace finesse::server {

struct Counters {
  std::atomic<uint64_t> served[wire::kOpCount]{};
  std::atomic<uint64_t> fallback[wire::kOpCount]{};
  std::atomic<uint64_t> kernel_ops{0};
  std::atomic<uint64_t> clients_total{0};
  std::atomic<uint64_t> clients_active{0};
  std::atomic<uint64_t> wakeups{0};  // the leading serving thread's wake-ups from sleep
};

}  // namespace finesse::server
