#include "kernel_facts.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "clock.h"
#include "finesse_track.h"
#include "pinned_map.h"
#include "tuning.h"

namespace finesse {

static_assert(sizeof(FdFact) == sizeof(finesse_fd_fact));
static_assert(sizeof(CwdFact) == sizeof(finesse_cwd_fact));

namespace {

// One pinned map: its read-only fd and the pin's inode it was opened from. A replaced pin
// (unload, then attach) means a new map: the old fd is then left open rather than closed,
// because another thread may be about to use its number (one fd per map and reload).
struct SharedPin {
  const char *pin;
  std::atomic<int> fd{-1};
  std::atomic<uint64_t> pin_ino{0};
  std::atomic<int64_t> checked_ns{0};
};

SharedPin g_fds{FINESSE_FDS_PIN};
SharedPin g_cwds{FINESSE_CWDS_PIN};

uint64_t pin_inode(const char *pin) {
  struct stat st;
  return stat(pin, &st) == 0 ? st.st_ino : 0;
}

// The map's fd, or -1. Costs one stat() of the pin per registry TTL.
int map_fd(SharedPin &m) {
  int fd = m.fd.load(std::memory_order_acquire);
  int64_t now = now_ns();
  if (fd >= 0 &&
      now - m.checked_ns.load(std::memory_order_relaxed) < tuning().registry_ttl_ms * 1000000)
    return fd;
  m.checked_ns.store(now, std::memory_order_relaxed);
  uint64_t ino = pin_inode(m.pin);
  if (fd >= 0 && ino != 0 && ino == m.pin_ino.load(std::memory_order_relaxed)) return fd;
  if (ino == 0) {  // not loaded (any more)
    m.fd.store(-1, std::memory_order_release);
    return -1;
  }
  int nfd = PinnedMap(m.pin).release();  // shared by the threads from here: no owner object
  if (nfd < 0) return -1;
  int expected = fd;
  if (!m.fd.compare_exchange_strong(expected, nfd, std::memory_order_acq_rel)) {
    close(nfd);  // another thread reopened it first; ours was never shared
    return expected;
  }
  m.pin_ino.store(ino, std::memory_order_relaxed);
  return nfd;
}

template <typename Key, typename Value>
bool lookup(SharedPin &m, const Key &key, Value *out) {
  int fd = map_fd(m);
  if (fd < 0) return false;
  int rc = PinnedMap::lookup(fd, &key, out);
  if (rc == -EBADF || rc == -EINVAL)
    m.checked_ns.store(0, std::memory_order_relaxed);  // closed under us
  return rc == 0;
}

}  // namespace

bool fd_fact(int fd, FdFact *out) {
  if (fd < 0 || fd >= FINESSE_FD_TRACK_LIMIT) return false;
  finesse_fd_key key{static_cast<__u32>(getpid()), fd};
  finesse_fd_fact v;
  if (!lookup(g_fds, key, &v)) return false;
  *out = FdFact{v.mnt_id, v.nodeid, v.fh, v.ino, v.generation};
  return true;
}

bool cwd_fact(CwdFact *out) {
  __u32 key = static_cast<__u32>(getpid());
  finesse_cwd_fact v;
  if (!lookup(g_cwds, key, &v)) return false;
  *out = CwdFact{v.mnt_id, v.nodeid, v.ino, v.generation};
  return true;
}

bool kernel_facts_available() {
  return map_fd(g_fds) >= 0 && map_fd(g_cwds) >= 0;
}

void kernel_facts_reset() {
  g_fds.checked_ns.store(0, std::memory_order_relaxed);
  g_cwds.checked_ns.store(0, std::memory_order_relaxed);
}

}  // namespace finesse
