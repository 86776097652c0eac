// A directory the shim knows without asking the kernel: its absolute path, inode number and
// mount id, valid for one epoch of its owner (an fd number, or the cwd). Written under a
// seqlock, read lock-free: safe in signal handlers and with any number of threads. A writer
// that loses a race simply does not write; readers then see "unknown" (the kernel path).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace finesse::shim {

template <size_t kPathCap>
struct BaseRecord {
  std::atomic<uint32_t> seq{0};    // odd while being written
  std::atomic<uint32_t> epoch{0};  // bumped by every event that invalidates what we know
  uint32_t rec_epoch = 0;          // the epoch the record describes
  uint32_t len = 0;                // 0: nothing known
  uint64_t ino = 0, mnt_id = 0;
  char path[kPathCap] = {};

  void invalidate() { epoch.fetch_add(1, std::memory_order_acq_rel); }

  // Writes the record for epoch e (read by the caller before it learned the facts).
  void write(uint32_t e, const char *p, size_t n, uint64_t i, uint64_t m) {
    if (n == 0 || n >= kPathCap) return;
    uint32_t s = seq.load(std::memory_order_relaxed);
    if ((s & 1) || !seq.compare_exchange_strong(s, s + 1, std::memory_order_acquire)) return;
    std::atomic_thread_fence(std::memory_order_release);
    rec_epoch = e;
    len = static_cast<uint32_t>(n);
    ino = i;
    mnt_id = m;
    memcpy(path, p, n);
    path[n] = '\0';
    seq.store(s + 2, std::memory_order_release);
  }

  // Copies a record that is valid now into out (NUL-terminated). False: unknown.
  bool read(char *out, size_t cap, uint64_t *i, uint64_t *m) const {
    uint32_t s1 = seq.load(std::memory_order_acquire);
    if (s1 & 1) return false;
    uint32_t n = len;
    uint32_t re = rec_epoch;
    uint64_t ri = ino, rm = mnt_id;
    if (n == 0 || n >= kPathCap || n >= cap) return false;
    memcpy(out, path, n);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (seq.load(std::memory_order_relaxed) != s1) return false;
    if (re != epoch.load(std::memory_order_acquire)) return false;
    out[n] = '\0';
    *i = ri;
    *m = rm;
    return true;
  }
};

}  // namespace finesse::shim
