// A pinned BPF array of u64 counters (bpf/finesse_track.h: cred_gen, cwd_gen, watched) as
// the server reads it. Used from the server thread only.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "pinned_map.h"

namespace finesse::server {

// A pinned array of u64 counters with a dead mark (FINESSE_CRED_GEN_DEAD) in entry
// dead_index, set by the loader before it unloads the programs (as cred_watch.cpp's
// counter): mapped when the server may open the pin read-write (root), else read with one
// bpf() lookup. Found lazily and looked at again once a second (a reload re-pins track_info).
class PinnedCounters {
 public:
  PinnedCounters(const char *pin, uint32_t entries, uint32_t dead_index)
      : pin_(pin), entries_(entries), dead_index_(dead_index) {}
  ~PinnedCounters() { close_map(); }
  PinnedCounters(const PinnedCounters &) = delete;
  PinnedCounters &operator=(const PinnedCounters &) = delete;

  // Entry index and the opening it was read from (never 0), or false. mapped_only: only
  // from the mapping (no system call).
  bool read(uint32_t index, uint64_t *value, uint32_t *source, bool mapped_only = false);
  // Whether entries are per process (tgids of the initial pid namespace are ours).
  bool per_process();

 private:
  void revalidate(int64_t now);
  void close_map();

  const char *pin_;
  uint32_t entries_;
  uint32_t dead_index_;
  const uint64_t *slots_ = nullptr;  // mapped (root)
  size_t map_len_ = 0;
  PinnedMap map_;  // else read-only
  uint64_t info_ino_ = 0;
  uint32_t source_ = 0;
  int64_t next_check_ns_ = 0;
  bool per_process_ = false;
  bool checked_ns_ = false;
};

}  // namespace finesse::server
