// Knobs read once from the environment. Spinning before sleeping is what makes the bypass
// fast here (a futex wake-up costs 60-80 us, a spin round trip < 1 us), but every spinning
// microsecond is CPU taken from the other side on a 2-core machine, hence the budgets.
#pragma once

#include <cstdint>

namespace finesse {

struct Tuning {
  int64_t client_spin_ns;    // FINESSE_CLIENT_SPIN_US (default 50)
  int64_t client_wake_spin_ns;  // FINESSE_CLIENT_WAKE_SPIN_US: spin after waking a sleeping
                                // server (default 250: its wake-up plus the request)
  int64_t client_spinners;   // FINESSE_CLIENT_SPINNERS: threads of one process that may spin
                             // at once; the others sleep at once, so that the server keeps
                             // a CPU (default: the CPUs this process may use, minus one, >= 1)
  bool single_cpu;           // this process may run on one CPU only (taskset): a spinner
                             // yields at every turn, the other side needs that very CPU
  int64_t cpus;              // CPUs this process may use
  int64_t server_spin_ns;    // FINESSE_SERVER_SPIN_US (default 200)
  int64_t server_threads;    // FINESSE_SERVER_THREADS: serving threads per mount, 1-64 (default:
                             // the CPUs, plus one for calls stuck in the file system)
  int64_t server_wait_ms;    // FINESSE_SERVER_TIMEOUT_MS: bound on waiting for an unclaimed
                             // request before falling back (default 1000)
  int64_t server_stuck_ns;   // FINESSE_SERVER_STUCK_MS: an awake server whose beat has not
                             // moved for this long is inside a file system call that does not
                             // return; calls use the kernel until it moves (default 250)
  int64_t registry_ttl_ms;   // FINESSE_REGISTRY_TTL_MS (default 1000)
  int64_t handshake_wait_ms;     // FINESSE_HANDSHAKE_TIMEOUT_MS: bound on waiting for a server's
                                 // welcome before the kernel serves instead (default 1000)
  int64_t server_cache_entries;  // FINESSE_SERVER_CACHE_ENTRIES: dentries the server caches
                                 // (each may hold a lookup, i.e. a passthrough's open fd);
                                 // least recently used ones are forgotten (default 65536)
  bool wake_for_reads;           // FINESSE_WAKE_FOR_READS=1: a read-only call waits for a sleeping
                                 // server; by default it takes the kernel and wakes the server for
                                 // the calls after it (the test suite sets 1: exact routes)
  bool disabled;             // FINESSE_DISABLE=1: every call takes the kernel path
};

// Parsed once; safe to call from any thread, never allocates.
const Tuning &tuning();

// Integer from the environment, or fallback when unset or malformed. No allocation.
int64_t env_int(const char *name, int64_t fallback);

}  // namespace finesse
