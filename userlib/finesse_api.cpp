// libfinesse.so: the explicit C API (include/finesse/finesse.h). Every function tries the
// bypass and, when it declines, makes the very libc call it mirrors.
#include "finesse/finesse.h"

#include <errno.h>
#include <stdio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "bypass_ops.h"
#include "channel.h"
#include "fd_file.h"
#include "read_route.h"
#include "registry_cache.h"
#include "wire.h"

using namespace finesse::client;

namespace {

// Either the bypass answered (set errno as the kernel would), or the kernel answers.
template <typename Kernel>
auto finish(finesse::Result r, Kernel kernel) -> decltype(kernel()) {
  if (r.to_kernel()) {
    note_route(false);
    auto k = kernel();
    kernel_call_done();  // (timed when sent there to compare routes: read_route.h)
    return k;
  }
  note_route(true);
  return r.to_libc<decltype(kernel())>();
}

// op(file) on the file behind fd (the kernel's facts, then /proc/self/fd), or kToKernel.
template <typename Op>
finesse::Result on_fd(int fd, FdUse use, Op op) {
  return on_fd_file(fd, use, fd_file, op);
}

// by_node() (the fd's node: bypass_ops.h b_*_fd), else by_path on the file behind fd.
template <typename ByNode, typename ByPath>
finesse::Result on_fd(int fd, FdUse use, ByNode by_node, ByPath by_path) {
  if (finesse::Result rc = by_node(); !rc.to_kernel()) return rc;
  return on_fd(fd, use, by_path);
}

}  // namespace

#define API extern "C" __attribute__((visibility("default")))

API int finesse_stat(const char *p, struct stat *st) {
  return finish(b_fstatat(AT_FDCWD, p, st, 0), [&] { return stat(p, st); });
}
API int finesse_lstat(const char *p, struct stat *st) {
  return finish(b_fstatat(AT_FDCWD, p, st, AT_SYMLINK_NOFOLLOW), [&] { return lstat(p, st); });
}
API int finesse_fstatat(int fd, const char *p, struct stat *st, int flags) {
  return finish(b_fstatat(fd, p, st, flags), [&] { return fstatat(fd, p, st, flags); });
}
API int finesse_statx(int fd, const char *p, int flags, unsigned mask, struct statx *stx) {
  return finish(b_statx(fd, p, flags, mask, stx), [&] { return statx(fd, p, flags, mask, stx); });
}
API int finesse_access(const char *p, int mode) {
  return finish(b_faccessat(AT_FDCWD, p, mode, 0), [&] { return access(p, mode); });
}
API int finesse_faccessat(int fd, const char *p, int mode, int flags) {
  return finish(b_faccessat(fd, p, mode, flags), [&] { return faccessat(fd, p, mode, flags); });
}
API int finesse_unlink(const char *p) {
  return finish(b_unlinkat(AT_FDCWD, p, 0), [&] { return unlink(p); });
}
API int finesse_unlinkat(int fd, const char *p, int flags) {
  return finish(b_unlinkat(fd, p, flags), [&] { return unlinkat(fd, p, flags); });
}
API int finesse_mkdir(const char *p, mode_t mode) {
  return finish(b_mkdirat(AT_FDCWD, p, mode), [&] { return mkdir(p, mode); });
}
API int finesse_mkdirat(int fd, const char *p, mode_t mode) {
  return finish(b_mkdirat(fd, p, mode), [&] { return mkdirat(fd, p, mode); });
}
API int finesse_rmdir(const char *p) {
  return finish(b_unlinkat(AT_FDCWD, p, AT_REMOVEDIR), [&] { return rmdir(p); });
}
API int finesse_rename(const char *a, const char *b) {
  return finish(b_renameat2(AT_FDCWD, a, AT_FDCWD, b, 0), [&] { return rename(a, b); });
}
API int finesse_renameat2(int fa, const char *a, int fb, const char *b, unsigned flags) {
  return finish(b_renameat2(fa, a, fb, b, flags), [&] { return renameat2(fa, a, fb, b, flags); });
}
API int finesse_chmod(const char *p, mode_t mode) {
  return finish(b_fchmodat(AT_FDCWD, p, mode, 0), [&] { return chmod(p, mode); });
}
API int finesse_fchmodat(int fd, const char *p, mode_t mode, int flags) {
  return finish(b_fchmodat(fd, p, mode, flags), [&] { return fchmodat(fd, p, mode, flags); });
}
API int finesse_chown(const char *p, uid_t u, gid_t g) {
  return finish(b_fchownat(AT_FDCWD, p, u, g, 0), [&] { return chown(p, u, g); });
}
API int finesse_lchown(const char *p, uid_t u, gid_t g) {
  return finish(b_fchownat(AT_FDCWD, p, u, g, AT_SYMLINK_NOFOLLOW),
                [&] { return lchown(p, u, g); });
}
API int finesse_fchownat(int fd, const char *p, uid_t u, gid_t g, int flags) {
  return finish(b_fchownat(fd, p, u, g, flags), [&] { return fchownat(fd, p, u, g, flags); });
}
API int finesse_truncate(const char *p, off_t len) {
  return finish(b_truncate(p, len), [&] { return truncate(p, len); });
}
API int finesse_utimensat(int fd, const char *p, const struct timespec t[2], int flags) {
  return finish(b_utimensat(fd, p, t, flags), [&] { return utimensat(fd, p, t, flags); });
}
API ssize_t finesse_readlink(const char *p, char *buf, size_t n) {
  return finish(b_readlinkat(AT_FDCWD, p, buf, n), [&] { return readlink(p, buf, n); });
}
API int finesse_symlink(const char *target, const char *p) {
  return finish(b_symlinkat(target, AT_FDCWD, p), [&] { return symlink(target, p); });
}
API int finesse_link(const char *a, const char *b) {
  return finish(b_linkat(AT_FDCWD, a, AT_FDCWD, b, 0), [&] { return link(a, b); });
}
API int finesse_statfs(const char *p, struct statfs *st) {
  return finish(b_statfs(p, st), [&] { return statfs(p, st); });
}
API ssize_t finesse_getxattr(const char *p, const char *name, void *v, size_t n) {
  return finish(b_getxattr(p, name, v, n, false), [&] { return getxattr(p, name, v, n); });
}
API ssize_t finesse_lgetxattr(const char *p, const char *name, void *v, size_t n) {
  return finish(b_getxattr(p, name, v, n, true), [&] { return lgetxattr(p, name, v, n); });
}
API ssize_t finesse_listxattr(const char *p, char *list, size_t n) {
  return finish(b_listxattr(p, list, n, false), [&] { return listxattr(p, list, n); });
}

API int finesse_fstat(int fd, struct stat *st) {
  // The kernel's cached attributes are the cheaper answer (channel.h): not even the fd's facts.
  if (channel_kernel_caches_all_attrs())
    return finish(finesse::kToKernel, [&] { return fstat(fd, st); });
  return finish(on_fd(
                    fd, FdUse::kAny, [&] { return b_fstat_fd(fd, st); },
                    [&](const KnownFile &f) { return b_fstat_known(f, st); }),
                [&] { return fstat(fd, st); });
}
API int finesse_fchmod(int fd, mode_t mode) {
  return finish(on_fd(
                    fd, FdUse::kNotPath, [&] { return b_fchmod_fd(fd, mode); },
                    [&](const KnownFile &f) { return b_fchmod_known(f, mode); }),
                [&] { return fchmod(fd, mode); });
}
API int finesse_fchown(int fd, uid_t u, gid_t g) {
  return finish(on_fd(
                    fd, FdUse::kNotPath, [&] { return b_fchown_fd(fd, u, g); },
                    [&](const KnownFile &f) { return b_fchown_known(f, u, g); }),
                [&] { return fchown(fd, u, g); });
}
API int finesse_ftruncate(int fd, off_t len) {
  return finish(on_fd(
                    fd, FdUse::kWritable, [&] { return b_ftruncate_fd(fd, len); },
                    [&](const KnownFile &f) { return b_ftruncate_known(f, len); }),
                [&] { return ftruncate(fd, len); });
}
API int finesse_futimens(int fd, const struct timespec t[2]) {
  return finish(on_fd(
                    fd, FdUse::kNotPath, [&] { return b_futimens_fd(fd, t); },
                    [&](const KnownFile &f) { return b_futimens_known(f, t); }),
                [&] { return futimens(fd, t); });
}
API ssize_t finesse_fgetxattr(int fd, const char *name, void *v, size_t n) {
  return finish(on_fd(
                    fd, FdUse::kNotPath, [&] { return b_fgetxattr_fd(fd, name, v, n); },
                    [&](const KnownFile &f) { return b_fgetxattr_known(f, name, v, n); }),
                [&] { return fgetxattr(fd, name, v, n); });
}
API int finesse_fstatfs(int fd, struct statfs *st) {
  return finish(on_fd(
                    fd, FdUse::kAny, [&] { return b_fstatfs_fd(fd, st); },
                    [&](const KnownFile &f) { return b_fstatfs_known(f, st); }),
                [&] { return fstatfs(fd, st); });
}

API enum finesse_route finesse_last_route(void) {
  return static_cast<enum finesse_route>(last_route());
}

API void finesse_get_client_stats(struct finesse_client_stats *out) {
  client_stats(&out->bypassed, &out->kernel);
  channel_stall_stats(&out->stalled_skipped, &out->stalled_waited);
}

API void finesse_refresh_registry(void) { registry_invalidate(); }
