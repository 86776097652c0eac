// Calls that only read metadata: the stat family (every exported variant), statx, access,
// statfs/statvfs, readlink, getxattr/listxattr; fstat (and fstatat with AT_EMPTY_PATH) of an
// fd on an attached mount, by its recorded path with the server checking its inode.
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bypass_ops.h"
#include "channel.h"
#include "fd_call.h"
#include "fd_table.h"
#include "real_libc.h"
#include "scratch.h"
#include "shim.h"
#include "statvfs_conv.h"

using finesse::client::b_faccessat;
using finesse::client::b_fstatat;
using finesse::client::b_getxattr;
using finesse::client::b_listxattr;
using finesse::client::b_readlinkat;
using finesse::client::b_fstat_known;
using finesse::client::b_statfs;
using finesse::client::b_statx;

using finesse::shim::to_statvfs;

namespace {

// The only struct stat layout the legacy __xstat entry points may ask for on x86-64.
constexpr int kStatVer = 1;
struct stat *as_stat(struct stat64 *st) {
  return reinterpret_cast<struct stat *>(st);
}
static_assert(sizeof(struct stat) == sizeof(struct stat64));
static_assert(sizeof(struct statfs) == sizeof(struct statfs64));

// fstat(fd): the fd's path and inode from the fd table (or, for an fd we did not see
// opened, from the kernel's facts and /proc/self/fd once).
finesse::Result b_fstat(int fd, struct stat *st) {
  // Before looking the fd up: the kernel's cached attributes are the cheaper answer.
  if (finesse::client::channel_kernel_caches_all_attrs()) return finesse::kToKernel;
  return finesse::shim::on_fd(
      fd, finesse::client::FdUse::kAny,
      [&](bool *e) { return finesse::client::b_fstat_fd(fd, st, e); },
      [&](const finesse::client::KnownFile &f) { return b_fstat_known(f, st); });
}

// fstatat: AT_EMPTY_PATH with "" on an fd is fstat; everything else by path.
finesse::Result b_fstatat_any(int fd, const char *p, struct stat *st, int flags) {
  if ((flags & AT_EMPTY_PATH) && p != nullptr && p[0] == '\0') {
    if (fd == AT_FDCWD || (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT)))
      return finesse::kToKernel;
    return b_fstat(fd, st);
  }
  return b_fstatat(fd, p, st, flags);
}

template <typename Vfs>
finesse::Result b_statvfs(const char *path, Vfs *v) {
  struct statfs s;
  finesse::Result rc = b_statfs(path, &s);
  if (rc.ok()) to_statvfs(s, v);
  return rc;
}

}  // namespace

FINESSE_EXPORT int stat(const char *p, struct stat *st) {
  FINESSE_BYPASS_OR_NEXT(b_fstatat(AT_FDCWD, p, st, 0), stat, p, st);
}
FINESSE_EXPORT int lstat(const char *p, struct stat *st) {
  FINESSE_BYPASS_OR_NEXT(b_fstatat(AT_FDCWD, p, st, AT_SYMLINK_NOFOLLOW), lstat, p, st);
}
FINESSE_EXPORT int fstatat(int fd, const char *p, struct stat *st, int flags) {
  FINESSE_BYPASS_OR_NEXT(b_fstatat_any(fd, p, st, flags), fstatat, fd, p, st, flags);
}
FINESSE_EXPORT int stat64(const char *p, struct stat64 *st) {
  FINESSE_BYPASS_OR_NEXT(b_fstatat(AT_FDCWD, p, as_stat(st), 0), stat64, p, st);
}
FINESSE_EXPORT int lstat64(const char *p, struct stat64 *st) {
  FINESSE_BYPASS_OR_NEXT(b_fstatat(AT_FDCWD, p, as_stat(st), AT_SYMLINK_NOFOLLOW), lstat64, p, st);
}
FINESSE_EXPORT int fstatat64(int fd, const char *p, struct stat64 *st, int flags) {
  FINESSE_BYPASS_OR_NEXT(b_fstatat_any(fd, p, as_stat(st), flags), fstatat64, fd, p, st, flags);
}
FINESSE_EXPORT int fstat(int fd, struct stat *st) {
  FINESSE_BYPASS_OR_NEXT(b_fstat(fd, st), fstat, fd, st);
}
FINESSE_EXPORT int fstat64(int fd, struct stat64 *st) {
  FINESSE_BYPASS_OR_NEXT(b_fstat(fd, as_stat(st)), fstat64, fd, st);
}

// The pre-2.33 entry points old binaries still call.
FINESSE_EXPORT int __xstat(int ver, const char *p, struct stat *st) {
  FINESSE_BYPASS_OR_NEXT(ver == kStatVer ? b_fstatat(AT_FDCWD, p, st, 0) : finesse::kToKernel,
                         __xstat, ver, p, st);
}
FINESSE_EXPORT int __lxstat(int ver, const char *p, struct stat *st) {
  FINESSE_BYPASS_OR_NEXT(
      ver == kStatVer ? b_fstatat(AT_FDCWD, p, st, AT_SYMLINK_NOFOLLOW) : finesse::kToKernel,
      __lxstat, ver, p, st);
}
FINESSE_EXPORT int __fxstatat(int ver, int fd, const char *p, struct stat *st, int flags) {
  FINESSE_BYPASS_OR_NEXT(ver == kStatVer ? b_fstatat_any(fd, p, st, flags) : finesse::kToKernel,
                         __fxstatat, ver, fd, p, st, flags);
}
FINESSE_EXPORT int __xstat64(int ver, const char *p, struct stat64 *st) {
  FINESSE_BYPASS_OR_NEXT(
      ver == kStatVer ? b_fstatat(AT_FDCWD, p, as_stat(st), 0) : finesse::kToKernel, __xstat64, ver,
      p, st);
}
FINESSE_EXPORT int __lxstat64(int ver, const char *p, struct stat64 *st) {
  FINESSE_BYPASS_OR_NEXT(ver == kStatVer ? b_fstatat(AT_FDCWD, p, as_stat(st), AT_SYMLINK_NOFOLLOW)
                                         : finesse::kToKernel,
                         __lxstat64, ver, p, st);
}
FINESSE_EXPORT int __fxstatat64(int ver, int fd, const char *p, struct stat64 *st, int flags) {
  FINESSE_BYPASS_OR_NEXT(
      ver == kStatVer ? b_fstatat_any(fd, p, as_stat(st), flags) : finesse::kToKernel, __fxstatat64,
      ver, fd, p, st, flags);
}
FINESSE_EXPORT int __fxstat(int ver, int fd, struct stat *st) {
  FINESSE_BYPASS_OR_NEXT(ver == kStatVer ? b_fstat(fd, st) : finesse::kToKernel, __fxstat, ver, fd,
                         st);
}
FINESSE_EXPORT int __fxstat64(int ver, int fd, struct stat64 *st) {
  FINESSE_BYPASS_OR_NEXT(ver == kStatVer ? b_fstat(fd, as_stat(st)) : finesse::kToKernel,
                         __fxstat64, ver, fd, st);
}

FINESSE_EXPORT int statx(int fd, const char *p, int flags, unsigned mask, struct statx *stx) {
  FINESSE_BYPASS_OR_NEXT(b_statx(fd, p, flags, mask, stx), statx, fd, p, flags, mask, stx);
}

FINESSE_EXPORT int access(const char *p, int mode) {
  FINESSE_BYPASS_OR_NEXT(b_faccessat(AT_FDCWD, p, mode, 0), access, p, mode);
}
FINESSE_EXPORT int faccessat(int fd, const char *p, int mode, int flags) {
  FINESSE_BYPASS_OR_NEXT(b_faccessat(fd, p, mode, flags), faccessat, fd, p, mode, flags);
}
FINESSE_EXPORT int euidaccess(const char *p, int mode) {
  FINESSE_BYPASS_OR_NEXT(b_faccessat(AT_FDCWD, p, mode, AT_EACCESS), euidaccess, p, mode);
}
FINESSE_EXPORT int eaccess(const char *p, int mode) {
  FINESSE_BYPASS_OR_NEXT(b_faccessat(AT_FDCWD, p, mode, AT_EACCESS), eaccess, p, mode);
}

FINESSE_EXPORT int statfs(const char *p, struct statfs *st) {
  FINESSE_BYPASS_OR_NEXT(b_statfs(p, st), statfs, p, st);
}
FINESSE_EXPORT int statfs64(const char *p, struct statfs64 *st) {
  FINESSE_BYPASS_OR_NEXT(b_statfs(p, reinterpret_cast<struct statfs *>(st)), statfs64, p, st);
}
FINESSE_EXPORT int statvfs(const char *p, struct statvfs *st) {
  FINESSE_BYPASS_OR_NEXT(b_statvfs(p, st), statvfs, p, st);
}
FINESSE_EXPORT int statvfs64(const char *p, struct statvfs64 *st) {
  FINESSE_BYPASS_OR_NEXT(b_statvfs(p, st), statvfs64, p, st);
}

FINESSE_EXPORT ssize_t readlink(const char *p, char *buf, size_t n) {
  FINESSE_BYPASS_OR_NEXT(b_readlinkat(AT_FDCWD, p, buf, n), readlink, p, buf, n);
}
FINESSE_EXPORT ssize_t readlinkat(int fd, const char *p, char *buf, size_t n) {
  FINESSE_BYPASS_OR_NEXT(b_readlinkat(fd, p, buf, n), readlinkat, fd, p, buf, n);
}

FINESSE_EXPORT ssize_t getxattr(const char *p, const char *name, void *v, size_t n) {
  FINESSE_BYPASS_OR_NEXT(b_getxattr(p, name, v, n, false), getxattr, p, name, v, n);
}
FINESSE_EXPORT ssize_t lgetxattr(const char *p, const char *name, void *v, size_t n) {
  FINESSE_BYPASS_OR_NEXT(b_getxattr(p, name, v, n, true), lgetxattr, p, name, v, n);
}
FINESSE_EXPORT ssize_t listxattr(const char *p, char *list, size_t n) {
  FINESSE_BYPASS_OR_NEXT(b_listxattr(p, list, n, false), listxattr, p, list, n);
}
FINESSE_EXPORT ssize_t llistxattr(const char *p, char *list, size_t n) {
  FINESSE_BYPASS_OR_NEXT(b_listxattr(p, list, n, true), llistxattr, p, list, n);
}
