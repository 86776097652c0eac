#include "registry_cache.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "clock.h"
#include "registry.h"
#include "tuning.h"

namespace finesse::client {

namespace {

// Odd while being rewritten. Readers that see it change take the kernel path.
std::atomic<uint32_t> g_seq{0};
std::atomic<int64_t> g_checked_ns{0};
std::atomic<bool> g_refreshing{false};
// ~40 KiB, static: no allocation inside applications. constinit: the shim may use it from
// other libraries' constructors, before any dynamic initialiser of ours would run.
constinit RegistrySnapshot g_snap{};
// Entry i of g_snap no longer lies at its mount path (lazily unmounted, a mount over it or
// over an ancestor of it): its paths lead elsewhere and go to the kernel. Looked at with
// every revalidation; the server refuses such requests anyway (fuse-ext/kernel_watch.h).
constinit std::atomic<bool> g_hidden[FINESSE_MAX_MOUNTS]{};

// The id of the mount at path, or 0. name_to_handle_at, not statx: like statx with
// AT_STATX_DONT_SYNC it walks the path without asking any FUSE daemon, and it is no stat call,
// so the missed-bypass counters (bpf/, stat calls on attached mounts) do not take this check,
// made by every shim process for every attached mount, for an application's call. With no
// room for a handle it fails with EOVERFLOW and still reports the mount id.
uint64_t mount_id_at(const char *path) {
  struct {
    file_handle h;
    unsigned char room[8];
  } fh{};
  fh.h.handle_bytes = 0;
  int mnt_id = 0;
  int saved = errno;
  long rc = syscall(SYS_name_to_handle_at, AT_FDCWD, path, &fh.h, &mnt_id, 0);
  int err = errno;
  errno = saved;
  if (rc == 0 || err == EOVERFLOW) return static_cast<uint32_t>(mnt_id);
  if (err != ENOSYS && err != EPERM && err != EOPNOTSUPP) return 0;
  // Not allowed here (a seccomp filter) or not for this file system: statx.
  struct statx stx;
  rc = syscall(SYS_statx, AT_FDCWD, path, AT_STATX_DONT_SYNC | AT_NO_AUTOMOUNT, STATX_MNT_ID, &stx);
  errno = saved;
  return rc == 0 && (stx.stx_mask & STATX_MNT_ID) ? stx.stx_mnt_id : 0;
}

// Whether the mount at e's path is another than e's.
bool hidden(const finesse_mount_entry &e) {
  return mount_id_at(e.mount_path) != e.mnt_id;
}

void refresh_if_stale() {
  int64_t now = coarse_now_ns();  // (a TTL of a second: a tick's precision is plenty)
  int64_t ttl = tuning().registry_ttl_ms * 1000000;
  int64_t checked = g_checked_ns.load(std::memory_order_acquire);
  if (checked != 0 && now - checked < ttl) return;
  bool expected = false;
  if (!g_refreshing.compare_exchange_strong(expected, true)) return;
  // Reading the maps has cancellation points (close): none may end us while refreshing,
  // and no signal handler may siglongjmp out (g_refreshing would stay set for good).
  int cancel_state;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
  sigset_t all, old_mask;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old_mask);
  uint64_t gen = 0;
  bool unchanged = checked != 0 && registry_read_generation(&gen) == 0 && gen == g_snap.generation;
  if (!unchanged) {
    g_seq.fetch_add(1, std::memory_order_acq_rel);
    if (registry_read(&g_snap) < 0) g_snap.count = 0;
    for (int i = 0; i < g_snap.count && i < FINESSE_MAX_MOUNTS; i++)
      g_hidden[i].store(hidden(g_snap.entries[i]), std::memory_order_relaxed);
    g_seq.fetch_add(1, std::memory_order_acq_rel);
  } else {
    for (int i = 0; i < g_snap.count && i < FINESSE_MAX_MOUNTS; i++)
      g_hidden[i].store(hidden(g_snap.entries[i]), std::memory_order_relaxed);
  }
  g_checked_ns.store(now, std::memory_order_release);
  g_refreshing.store(false);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  pthread_setcancelstate(cancel_state, nullptr);
}

// Copies entry i of the snapshot read under sequence s1 into m; false if it was rewritten
// meanwhile.
bool take_entry(int i, size_t prefix_len, uint32_t s1, MountMatch *m) {
  const finesse_mount_entry &e = g_snap.entries[i];
  m->mnt_id = e.mnt_id;
  m->prefix_len = prefix_len;
  m->server_pid = e.server_pid;
  memcpy(m->mount_path, e.mount_path, sizeof(m->mount_path));
  memcpy(m->socket_path, e.socket_path, sizeof(m->socket_path));
  m->mount_path[sizeof(m->mount_path) - 1] = '\0';
  m->socket_path[sizeof(m->socket_path) - 1] = '\0';
  std::atomic_thread_fence(std::memory_order_acquire);
  return g_seq.load(std::memory_order_relaxed) == s1;
}

}  // namespace

void registry_invalidate() { g_checked_ns.store(0, std::memory_order_release); }

bool classify_absolute(const char *path, MountMatch *m) {
  if (path == nullptr || path[0] != '/') return false;
  refresh_if_stale();
  uint32_t s1 = g_seq.load(std::memory_order_acquire);
  if (s1 & 1) return false;
  int best = -1;
  size_t best_len = 0;
  int count = g_snap.count;
  for (int i = 0; i < count && i < FINESSE_MAX_MOUNTS; i++) {
    const char *mp = g_snap.entries[i].mount_path;
    size_t n = strnlen(mp, FINESSE_MOUNT_PATH_MAX);
    if (n == 0 || n >= FINESSE_MOUNT_PATH_MAX) continue;
    if (strncmp(path, mp, n) != 0) continue;
    if (path[n] != '\0' && path[n] != '/' && !(n == 1 && mp[0] == '/')) continue;
    if (n > best_len) best = i, best_len = n;
  }
  // A hidden mount's paths are not the shorter registered prefix's either: the kernel's.
  if (best < 0 || g_hidden[best].load(std::memory_order_relaxed)) return false;
  return take_entry(best, best_len, s1, m);
}

bool classify_mount_id(uint64_t mnt_id, MountMatch *m) {
  if (mnt_id == 0) return false;
  refresh_if_stale();
  uint32_t s1 = g_seq.load(std::memory_order_acquire);
  if (s1 & 1) return false;
  int count = g_snap.count;
  for (int i = 0; i < count && i < FINESSE_MAX_MOUNTS; i++) {
    const finesse_mount_entry &e = g_snap.entries[i];
    if (e.mnt_id != mnt_id || g_hidden[i].load(std::memory_order_relaxed)) continue;
    return take_entry(i, 0, s1, m);
  }
  return false;
}

}  // namespace finesse::client
