// What changes the meaning of a relative path: chdir/fchdir (the cwd cache follows them),
// glibc's fts and nftw (they change directory internally, where we cannot see it), and
// chroot/unshare/setns (after which our view of paths may be wrong: the shim turns itself
// off for the rest of the process).
#include <fts.h>
#include <ftw.h>
#include <sched.h>
#include <unistd.h>

#include "cwd_cache.h"
#include "real_libc.h"
#include "scratch.h"
#include "shim.h"

using namespace finesse::shim;

namespace {

// Learns the new cwd right away (one getcwd + one statx), after a successful change only.
int after_cwd_change(int rc) {
  if (disabled()) return rc;
  int saved = errno;
  cwd_cache::invalidate();
  if (rc == 0) {
    Scope scope;
    finesse::client::Scratch *w = finesse::client::thread_scratch();
    if (scope.active() && w != nullptr) {
      uint64_t ino, mnt;
      cwd_cache::base(w->path, sizeof(w->path), &ino, &mnt);
    }
  }
  errno = saved;
  return rc;
}

int disable_after(int rc) {
  if (rc == 0) disable();
  return rc;
}

}  // namespace

FINESSE_EXPORT int chdir(const char *p) {
  if (!disabled()) cwd_cache::invalidate();
  return after_cwd_change(NEXT(chdir, p));
}

FINESSE_EXPORT int fchdir(int fd) {
  if (!disabled()) cwd_cache::invalidate();
  return after_cwd_change(NEXT(fchdir, fd));
}

FINESSE_EXPORT int chroot(const char *p) {
  return disable_after(NEXT(chroot, p));
}
FINESSE_EXPORT int unshare(int flags) {
  return disable_after(NEXT(unshare, flags));
}
FINESSE_EXPORT int setns(int fd, int nstype) {
  return disable_after(NEXT(setns, fd, nstype));
}

// glibc's fts changes directory inside fts_read/fts_children/fts_close (unless
// FTS_NOCHDIR): whatever we knew about the cwd is void afterwards.
#define FINESSE_FTS_WRAPPER(ret, name, params, args) \
  FINESSE_EXPORT ret name params {                   \
    if (!disabled()) cwd_cache::invalidate();        \
    ret r = NEXT(name, args);                        \
    if (!disabled()) cwd_cache::invalidate();        \
    return r;                                        \
  }
#define FINESSE_ARGS(...) __VA_ARGS__
FINESSE_FTS_WRAPPER(FTSENT *, fts_read, (FTS * f), f)
FINESSE_FTS_WRAPPER(FTSENT64 *, fts64_read, (FTS64 * f), f)
FINESSE_FTS_WRAPPER(FTSENT *, fts_children, (FTS * f, int o), FINESSE_ARGS(f, o))
FINESSE_FTS_WRAPPER(FTSENT64 *, fts64_children, (FTS64 * f, int o), FINESSE_ARGS(f, o))
FINESSE_FTS_WRAPPER(int, fts_close, (FTS * f), f)
FINESSE_FTS_WRAPPER(int, fts64_close, (FTS64 * f), f)

// nftw with FTW_CHDIR runs the callback in changing directories: relative paths go to the
// kernel for the whole walk.
FINESSE_EXPORT int nftw(const char *dir, __nftw_func_t fn, int fds, int flags) {
  bool chdirs = (flags & FTW_CHDIR) && !disabled();
  if (chdirs) cwd_cache::enter_untrusted();
  int rc = NEXT(nftw, dir, fn, fds, flags);
  if (chdirs) cwd_cache::leave_untrusted();
  return rc;
}
FINESSE_EXPORT int nftw64(const char *dir, __nftw64_func_t fn, int fds, int flags) {
  bool chdirs = (flags & FTW_CHDIR) && !disabled();
  if (chdirs) cwd_cache::enter_untrusted();
  int rc = NEXT(nftw64, dir, fn, fds, flags);
  if (chdirs) cwd_cache::leave_untrusted();
  return rc;
}
