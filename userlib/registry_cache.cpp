#include "registry_cache.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include <atomic>

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

void refresh_if_stale() {
  int64_t now = now_ns();
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
    g_seq.fetch_add(1, std::memory_order_acq_rel);
  }
  g_checked_ns.store(now, std::memory_order_release);
  g_refreshing.store(false);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  pthread_setcancelstate(cancel_state, nullptr);
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
  if (best < 0) return false;
  const finesse_mount_entry &e = g_snap.entries[best];
  m->mnt_id = e.mnt_id;
  m->prefix_len = best_len;
  m->server_pid = e.server_pid;
  memcpy(m->mount_path, e.mount_path, sizeof(m->mount_path));
  memcpy(m->socket_path, e.socket_path, sizeof(m->socket_path));
  m->mount_path[sizeof(m->mount_path) - 1] = '\0';
  m->socket_path[sizeof(m->socket_path) - 1] = '\0';
  std::atomic_thread_fence(std::memory_order_acquire);
  return g_seq.load(std::memory_order_relaxed) == s1;
}

}  // namespace finesse::client
