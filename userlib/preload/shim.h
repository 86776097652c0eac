// What every wrapper of the shim shares: the on/off switch, the per-thread "already inside
// the shim" guard (a wrapper reached from our own code, or from a signal handler that
// interrupted it, goes straight to libc), the process we belong to, and how a bypass
// answer becomes a libc-style return value with errno.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <cstdint>

#include "read_route.h"
#include "result.h"
#include "scratch.h"
#include "wire.h"

#define FINESSE_EXPORT extern "C" __attribute__((visibility("default")))

namespace finesse::shim {

// FINESSE_DISABLE=1, or a chroot/unshare/setns made our view of paths unreliable.
bool disabled();
void disable();

// False in a vfork child (it shares our memory but not our pid): it must not write facts
// about its own fds or cwd into the parent's tables. One getpid system call
// (client::channel_in_owner_process).
bool in_owner_process();
void set_owner_process();  // at start-up and in a fork child

extern thread_local int t_depth __attribute__((tls_model("initial-exec")));
// The frame of the outermost Scope of this thread while t_depth > 0.
extern thread_local const void *t_scope_frame __attribute__((tls_model("initial-exec")));

// t_depth > 0 and we run at `here`: if the Scope that set it was left by a siglongjmp out of
// a signal handler (its destructor never ran), resets this thread's marks and gives back
// what its call held (client::frame_abandoned, client::recover_abandoned_call).
void recover_if_abandoned(const void *here);

// Marks this thread as inside the shim. active(): the bypass may be tried.
class Scope {
 public:
  Scope() : active_(enter(FINESSE_FRAME())) {}
  ~Scope() { --t_depth; }
  Scope(const Scope &) = delete;
  Scope &operator=(const Scope &) = delete;
  bool active() const { return active_; }

 private:
  static bool enter(const void *here) {
    if (t_depth > 0) recover_if_abandoned(here);
    if (t_depth++ > 0) return false;
    t_scope_frame = here;
    return !disabled();
  }
  bool active_;
};

// The bypass answered r (0, a count, or an errno): return it as libc would.
template <typename R>
R answer(int saved_errno, Result r) {
  errno = saved_errno;  // a success leaves errno as the caller had it
  return r.to_libc<R>();
}

void count_bypassed();

}  // namespace finesse::shim

// The body of a bypassable wrapper: try `bypass_expr` (a Result from bypass_ops.h); if it
// declines, call the next definition of `name` with errno as the caller left it (timed when
// the bypass sent it there to compare routes: read_route.h).
#define FINESSE_BYPASS_OR_NEXT(bypass_expr, name, ...)                                      \
  do {                                                                                      \
    int saved_errno_ = errno;                                                               \
    ::finesse::Result rc_ = ::finesse::kToKernel;                                           \
    {                                                                                       \
      ::finesse::shim::Scope scope_;                                                        \
      if (scope_.active()) rc_ = (bypass_expr);                                             \
    }                                                                                       \
    if (!rc_.to_kernel()) {                                                                 \
      ::finesse::shim::count_bypassed();                                                    \
      return ::finesse::shim::answer<decltype(NEXT(name, __VA_ARGS__))>(saved_errno_, rc_); \
    }                                                                                       \
    errno = saved_errno_;                                                                   \
    auto kernel_rc_ = NEXT(name, __VA_ARGS__);                                              \
    ::finesse::client::kernel_call_done();                                                  \
    return kernel_rc_;                                                                      \
  } while (0)
