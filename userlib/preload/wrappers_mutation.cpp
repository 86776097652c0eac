// Calls that change the tree: unlink, mkdir, rmdir, rename, chmod, chown, truncate, the
// utime family, symlink, link.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <utime.h>

#include "bypass_ops.h"
#include "real_libc.h"
#include "shim.h"

using finesse::client::b_fchmodat;
using finesse::client::b_fchownat;
using finesse::client::b_linkat;
using finesse::client::b_mkdirat;
using finesse::client::b_renameat2;
using finesse::client::b_symlinkat;
using finesse::client::b_truncate;
using finesse::client::b_unlinkat;
using finesse::client::b_utimensat;

namespace {

// utimes/lutimes as glibc does them: through utimensat. Out-of-range microseconds become
// out-of-range nanoseconds, which the bypass leaves to the kernel (EINVAL).
finesse::Result b_utimes(const char *p, const struct timeval tv[2], int flags) {
  if (tv == nullptr) return b_utimensat(AT_FDCWD, p, nullptr, flags);
  if (tv[0].tv_usec < 0 || tv[0].tv_usec >= 1000000 || tv[1].tv_usec < 0 ||
      tv[1].tv_usec >= 1000000)
    return finesse::kToKernel;
  struct timespec ts[2] = {{tv[0].tv_sec, tv[0].tv_usec * 1000},
                           {tv[1].tv_sec, tv[1].tv_usec * 1000}};
  return b_utimensat(AT_FDCWD, p, ts, flags);
}

finesse::Result b_utime(const char *p, const struct utimbuf *t) {
  if (t == nullptr) return b_utimensat(AT_FDCWD, p, nullptr, 0);
  struct timespec ts[2] = {{t->actime, 0}, {t->modtime, 0}};
  return b_utimensat(AT_FDCWD, p, ts, 0);
}

}  // namespace

FINESSE_EXPORT int unlink(const char *p) {
  FINESSE_BYPASS_OR_NEXT(b_unlinkat(AT_FDCWD, p, 0), unlink, p);
}
FINESSE_EXPORT int unlinkat(int fd, const char *p, int flags) {
  FINESSE_BYPASS_OR_NEXT(b_unlinkat(fd, p, flags), unlinkat, fd, p, flags);
}
FINESSE_EXPORT int rmdir(const char *p) {
  FINESSE_BYPASS_OR_NEXT(b_unlinkat(AT_FDCWD, p, AT_REMOVEDIR), rmdir, p);
}
FINESSE_EXPORT int mkdir(const char *p, mode_t mode) {
  FINESSE_BYPASS_OR_NEXT(b_mkdirat(AT_FDCWD, p, mode), mkdir, p, mode);
}
FINESSE_EXPORT int mkdirat(int fd, const char *p, mode_t mode) {
  FINESSE_BYPASS_OR_NEXT(b_mkdirat(fd, p, mode), mkdirat, fd, p, mode);
}
FINESSE_EXPORT int rename(const char *a, const char *b) {
  FINESSE_BYPASS_OR_NEXT(b_renameat2(AT_FDCWD, a, AT_FDCWD, b, 0), rename, a, b);
}
FINESSE_EXPORT int renameat(int fa, const char *a, int fb, const char *b) {
  FINESSE_BYPASS_OR_NEXT(b_renameat2(fa, a, fb, b, 0), renameat, fa, a, fb, b);
}
FINESSE_EXPORT int renameat2(int fa, const char *a, int fb, const char *b, unsigned flags) {
  FINESSE_BYPASS_OR_NEXT(b_renameat2(fa, a, fb, b, flags), renameat2, fa, a, fb, b, flags);
}
FINESSE_EXPORT int chmod(const char *p, mode_t mode) {
  FINESSE_BYPASS_OR_NEXT(b_fchmodat(AT_FDCWD, p, mode, 0), chmod, p, mode);
}
FINESSE_EXPORT int fchmodat(int fd, const char *p, mode_t mode, int flags) {
  FINESSE_BYPASS_OR_NEXT(b_fchmodat(fd, p, mode, flags), fchmodat, fd, p, mode, flags);
}
FINESSE_EXPORT int chown(const char *p, uid_t u, gid_t g) {
  FINESSE_BYPASS_OR_NEXT(b_fchownat(AT_FDCWD, p, u, g, 0), chown, p, u, g);
}
FINESSE_EXPORT int lchown(const char *p, uid_t u, gid_t g) {
  FINESSE_BYPASS_OR_NEXT(b_fchownat(AT_FDCWD, p, u, g, AT_SYMLINK_NOFOLLOW), lchown, p, u, g);
}
FINESSE_EXPORT int fchownat(int fd, const char *p, uid_t u, gid_t g, int flags) {
  FINESSE_BYPASS_OR_NEXT(b_fchownat(fd, p, u, g, flags), fchownat, fd, p, u, g, flags);
}
FINESSE_EXPORT int truncate(const char *p, off_t len) {
  FINESSE_BYPASS_OR_NEXT(b_truncate(p, len), truncate, p, len);
}
FINESSE_EXPORT int truncate64(const char *p, off64_t len) {
  FINESSE_BYPASS_OR_NEXT(b_truncate(p, len), truncate64, p, len);
}
FINESSE_EXPORT int utimensat(int fd, const char *p, const struct timespec ts[2], int flags) {
  FINESSE_BYPASS_OR_NEXT(b_utimensat(fd, p, ts, flags), utimensat, fd, p, ts, flags);
}
FINESSE_EXPORT int utimes(const char *p, const struct timeval tv[2]) {
  FINESSE_BYPASS_OR_NEXT(b_utimes(p, tv, 0), utimes, p, tv);
}
FINESSE_EXPORT int lutimes(const char *p, const struct timeval tv[2]) {
  FINESSE_BYPASS_OR_NEXT(b_utimes(p, tv, AT_SYMLINK_NOFOLLOW), lutimes, p, tv);
}
FINESSE_EXPORT int utime(const char *p, const struct utimbuf *t) {
  FINESSE_BYPASS_OR_NEXT(b_utime(p, t), utime, p, t);
}
FINESSE_EXPORT int symlink(const char *target, const char *p) {
  FINESSE_BYPASS_OR_NEXT(b_symlinkat(target, AT_FDCWD, p), symlink, target, p);
}
FINESSE_EXPORT int symlinkat(const char *target, int fd, const char *p) {
  FINESSE_BYPASS_OR_NEXT(b_symlinkat(target, fd, p), symlinkat, target, fd, p);
}
FINESSE_EXPORT int link(const char *a, const char *b) {
  FINESSE_BYPASS_OR_NEXT(b_linkat(AT_FDCWD, a, AT_FDCWD, b, 0), link, a, b);
}
FINESSE_EXPORT int linkat(int fa, const char *a, int fb, const char *b, int flags) {
  FINESSE_BYPASS_OR_NEXT(b_linkat(fa, a, fb, b, flags), linkat, fa, a, fb, b, flags);
}
