#include "tuning.h"

#include <sched.h>

#include <atomic>
#include <cstdlib>

namespace finesse {

int64_t env_int(const char *name, int64_t fallback) {
  const char *v = getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char *end = nullptr;
  long long x = strtoll(v, &end, 10);
  if (end == v || *end != '\0' || x < 0) return fallback;
  return x;
}

namespace {

int64_t usable_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return CPU_COUNT(&set);
}

Tuning read_tuning() {
  Tuning r;
  r.client_spin_ns = env_int("FINESSE_CLIENT_SPIN_US", 50) * 1000;
  r.client_wake_spin_ns = env_int("FINESSE_CLIENT_WAKE_SPIN_US", 250) * 1000;
  int64_t cpus = usable_cpus();
  r.client_spinners = env_int("FINESSE_CLIENT_SPINNERS", cpus > 1 ? cpus - 1 : 1);
  if (r.client_spinners < 1) r.client_spinners = 1;
  r.single_cpu = cpus == 1;
  r.cpus = cpus;
  r.server_threads = env_int("FINESSE_SERVER_THREADS", cpus + 1);
  if (r.server_threads < 1) r.server_threads = 1;
  if (r.server_threads > 64) r.server_threads = 64;
  r.server_spin_ns = env_int("FINESSE_SERVER_SPIN_US", 200) * 1000;
  r.server_wait_ms = env_int("FINESSE_SERVER_TIMEOUT_MS", 1000);
  r.server_stuck_ns = env_int("FINESSE_SERVER_STUCK_MS", 250) * 1000000;
  r.registry_ttl_ms = env_int("FINESSE_REGISTRY_TTL_MS", 1000);
  r.handshake_wait_ms = env_int("FINESSE_HANDSHAKE_TIMEOUT_MS", 1000);
  r.server_cache_entries = env_int("FINESSE_SERVER_CACHE_ENTRIES", 65536);
  if (r.server_cache_entries < 1) r.server_cache_entries = 1;
  r.wake_for_reads = env_int("FINESSE_WAKE_FOR_READS", 0) != 0;
  r.disabled = env_int("FINESSE_DISABLE", 0) != 0;
  return r;
}

enum : int { kUnread = 0, kWriting = 1, kRead = 2 };
std::atomic<int> g_state{kUnread};
Tuning g_tuning;
// A caller that finds another (or a signal handler finds its own thread) writing g_tuning
// uses its own reading: it never waits.
thread_local Tuning t_tuning;

}  // namespace

// Not a function-local static: its guard would need the C++ runtime (common/CMakeLists.txt).
const Tuning &tuning() {
  int s = g_state.load(std::memory_order_acquire);
  if (s == kRead) return g_tuning;
  Tuning r = read_tuning();
  if (s == kUnread && g_state.compare_exchange_strong(s, kWriting, std::memory_order_acquire)) {
    g_tuning = r;
    g_state.store(kRead, std::memory_order_release);
    return g_tuning;
  }
  if (s == kRead) return g_tuning;
  t_tuning = r;
  return t_tuning;
}

}  // namespace finesse
