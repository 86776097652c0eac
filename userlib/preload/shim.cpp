#include "shim.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "bypass_ops.h"
#include "cwd_cache.h"
#include "fd_table.h"
#include "real_libc.h"
#include "resolve.h"
#include "tuning.h"

namespace finesse::shim {

thread_local int t_depth __attribute__((tls_model("initial-exec"))) = 0;

namespace {

// -1: not read yet; 0: on; 1: off.
std::atomic<int> g_disabled{-1};
std::atomic<pid_t> g_owner{0};

pid_t sys_getpid() {
  return static_cast<pid_t>(syscall(SYS_getpid));
}

bool provide_base(int dirfd, char *out, size_t cap, uint64_t *ino, uint64_t *mnt_id) {
  if (dirfd == AT_FDCWD) return cwd_cache::base(out, cap, ino, mnt_id);
  return fd_table::known_or_learn(dirfd, out, cap, ino, mnt_id);
}

void atfork_child() {
  set_owner_process();
}

// Runs before main (after libc is up). Wrappers called earlier — from other libraries'
// constructors — work too: everything here is also done lazily on first use.
__attribute__((constructor)) void shim_init() {
  int saved = errno;
  if (!disabled()) {
    real::table();
    set_owner_process();
    pthread_atfork(nullptr, nullptr, atfork_child);
  }
  errno = saved;
}

}  // namespace

bool disabled() {
  int d = g_disabled.load(std::memory_order_relaxed);
  if (d < 0) {
    d = env_int("FINESSE_DISABLE", 0) != 0 ? 1 : 0;
    // The provider goes in before anyone can see "on": the shim never asks the kernel
    // for a base (the explicit API's behaviour).
    if (d == 0) {
      client::set_base_provider(provide_base);
      client::set_cwd_stale_hook(cwd_cache::invalidate);
    }
    int expected = -1;
    if (!g_disabled.compare_exchange_strong(expected, d)) d = expected;
  }
  return d == 1;
}

void disable() {
  g_disabled.store(1, std::memory_order_relaxed);
}

bool in_owner_process() {
  pid_t owner = g_owner.load(std::memory_order_relaxed);
  return owner != 0 && owner == sys_getpid();
}

void set_owner_process() {
  g_owner.store(sys_getpid(), std::memory_order_relaxed);
}

void count_bypassed() {
  client::note_route(true);
}

}  // namespace finesse::shim
