#include "shim.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "bypass_ops.h"
#include "channel.h"
#include "cwd_cache.h"
#include "fd_table.h"
#include "real_libc.h"
#include "resolve.h"
#include "scratch.h"
#include "tuning.h"

namespace finesse::shim {

thread_local int t_depth __attribute__((tls_model("initial-exec"))) = 0;
thread_local const void *t_scope_frame __attribute__((tls_model("initial-exec"))) = nullptr;

namespace {

// -1: not read yet; 0: on; 1: off.
std::atomic<int> g_disabled{-1};

bool provide_base(int dirfd, char *out, size_t cap, uint64_t *ino, uint64_t *mnt_id) {
  if (dirfd == AT_FDCWD) return cwd_cache::base(out, cap, ino, mnt_id);
  return fd_table::known_or_learn(dirfd, out, cap, ino, mnt_id);
}

// No constructor: loading the shim costs a process that never calls in nothing but the
// channel's (our pid, one atfork handler: channel.cpp). The next definitions are looked up
// on first use (real_libc.cpp), the switch is read on first use (disabled()).

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
      client::channel_defer_first_handshake();
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
  return client::channel_in_owner_process();
}

void set_owner_process() {
  client::channel_set_owner_process();
}

void recover_if_abandoned(const void *here) {
  if (!client::frame_abandoned(t_scope_frame, here)) return;
  t_depth = 0;
  client::recover_abandoned_call();
}

void count_bypassed() {
  client::note_route(true);
}

}  // namespace finesse::shim
