// Which path a read-only call (stat, access, readlink, xattrs, statfs) on a mount whose names
// the kernel caches takes. The kernel answers a name it holds fresh in 1-2 us here, faster
// than any bypassed call (a round trip through shared memory plus the file system's own
// lookup); a stale or missing name costs it a round trip through /dev/fuse, 60-120 us. Neither
// side knows which names the kernel holds, and a bypassed answer does not refresh them (a
// later open pays the lookup the stat did not), so the client times both routes per
// operation and takes the cheaper one, trying the other now and then.
#pragma once

#include <atomic>
#include <cstdint>

#include "wire.h"

namespace finesse::client {

enum class ReadRoute { kKernel, kBypass };

class ReadRoutes {
 public:
  // server_awake: trying the bypass would not wake the server.
  ReadRoute choose(wire::Op op, bool server_awake) const;
  void sample(wire::Op op, ReadRoute r, int64_t ns);
  void reset();

 private:
  struct Costs {
    std::atomic<int32_t> kernel_ns{0}, bypass_ns{0};  // moving averages; 0: not known yet
    std::atomic<uint8_t> kernel_n{0}, bypass_n{0};    // samples taken, up to a few
  };
  Costs costs_[wire::kOpCount];
};

// The call about to go to the kernel is timed for routes (one per thread at a time): call
// kernel_call_done() right after it. A timing left pending is dropped by the next begin.
void begin_kernel_sample(ReadRoutes *routes, wire::Op op);
void kernel_call_done();

}  // namespace finesse::client
