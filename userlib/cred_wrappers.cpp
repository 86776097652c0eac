// Interposed credential and umask calls: the server learned our credentials when we
// connected, so after any change every connection is re-made (the server then sees the new
// ones); the umask is sent with each request.
#include <dlfcn.h>
#include <grp.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "channel.h"

namespace {
template <typename Fn>
Fn next(const char *name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}
}  // namespace

// Constant-initialized (no guard, no C++ runtime); looked up again by a thread that raced
// the first lookup: the same answer.
#define NEXT(fn)                                                                          \
  ([] {                                                                                   \
    static constinit std::atomic<decltype(&::fn)> f{nullptr};                             \
    auto p = f.load(std::memory_order_relaxed);                                           \
    if (p == nullptr) f.store(p = next<decltype(&::fn)>(#fn), std::memory_order_relaxed); \
    return p;                                                                             \
  }())

#define CRED_WRAPPER(ret, fn, params, args)                  \
  extern "C" __attribute__((visibility("default"))) ret fn params { \
    auto real = NEXT(fn);                                    \
    ret rc = real ? real args : -1;                          \
    finesse::client::channel_credentials_changed();          \
    return rc;                                               \
  }

CRED_WRAPPER(int, setuid, (uid_t u), (u))
CRED_WRAPPER(int, seteuid, (uid_t u), (u))
CRED_WRAPPER(int, setreuid, (uid_t r, uid_t e), (r, e))
CRED_WRAPPER(int, setresuid, (uid_t r, uid_t e, uid_t s), (r, e, s))
CRED_WRAPPER(int, setgid, (gid_t g), (g))
CRED_WRAPPER(int, setegid, (gid_t g), (g))
CRED_WRAPPER(int, setregid, (gid_t r, gid_t e), (r, e))
CRED_WRAPPER(int, setresgid, (gid_t r, gid_t e, gid_t s), (r, e, s))
CRED_WRAPPER(int, setgroups, (size_t n, const gid_t *l), (n, l))
CRED_WRAPPER(int, setfsuid, (uid_t u), (u))
CRED_WRAPPER(int, setfsgid, (gid_t g), (g))

extern "C" __attribute__((visibility("default"))) mode_t umask(mode_t mask) {
  auto real = NEXT(umask);
  mode_t old = real(mask);
  finesse::client::channel_set_umask(mask);
  return old;
}
