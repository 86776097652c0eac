// Calls on an open fd (fstat lives with the stat family): fchmod, fchown, ftruncate, futimens,
// fgetxattr and fstatfs/fstatvfs by the fd's node (fd_call.h) or else by the path the fd table
// holds (or learned from the kernel's facts), checked by inode; the server answers only
// successes (wire::kByNode, wire::kByFd), and the kernel decides whatever the fd would.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "bypass_ops.h"
#include "fd_call.h"
#include "fd_file.h"
#include "fd_table.h"
#include "real_libc.h"
#include "shim.h"
#include "statvfs_conv.h"

namespace {

using finesse::client::FdUse;
using finesse::client::KnownFile;

using finesse::shim::on_fd;

// op(file) on fd's file as the fd table knows it, or kToKernel (no form by node).
template <typename Op>
finesse::Result on_fd_path(int fd, FdUse use, Op op) {
  return finesse::client::on_fd_file(fd, use, finesse::shim::fd_table::file, op);
}

finesse::Result b_fchmod(int fd, mode_t mode) {
  return on_fd(
      fd, FdUse::kNotPath, [&](bool *e) { return finesse::client::b_fchmod_fd(fd, mode, e); },
      [&](const KnownFile &f) { return b_fchmod_known(f, mode); });
}
finesse::Result b_fchown(int fd, uid_t uid, gid_t gid) {
  return on_fd(
      fd, FdUse::kNotPath, [&](bool *e) { return finesse::client::b_fchown_fd(fd, uid, gid, e); },
      [&](const KnownFile &f) { return b_fchown_known(f, uid, gid); });
}
finesse::Result b_ftruncate(int fd, off_t length) {
  return on_fd(
      fd, FdUse::kWritable, [&](bool *e) { return finesse::client::b_ftruncate_fd(fd, length, e); },
      [&](const KnownFile &f) { return b_ftruncate_known(f, length); });
}
finesse::Result b_futimens(int fd, const struct timespec times[2]) {
  return on_fd(
      fd, FdUse::kNotPath, [&](bool *e) { return finesse::client::b_futimens_fd(fd, times, e); },
      [&](const KnownFile &f) { return b_futimens_known(f, times); });
}
finesse::Result b_fgetxattr(int fd, const char *name, void *value, size_t size) {
  return on_fd(
      fd, FdUse::kNotPath,
      [&](bool *e) { return finesse::client::b_fgetxattr_fd(fd, name, value, size, e); },
      [&](const KnownFile &f) { return b_fgetxattr_known(f, name, value, size); });
}
finesse::Result b_fstatfs(int fd, struct statfs *st) {
  return on_fd(
      fd, FdUse::kAny, [&](bool *e) { return finesse::client::b_fstatfs_fd(fd, st, e); },
      [&](const KnownFile &f) { return b_fstatfs_known(f, st); });
}
template <typename Vfs>
finesse::Result b_fstatvfs(int fd, Vfs *v) {
  struct statfs s;
  finesse::Result rc = b_fstatfs(fd, &s);
  if (rc.ok()) finesse::shim::to_statvfs(s, v);
  return rc;
}

}  // namespace

FINESSE_EXPORT int fchmod(int fd, mode_t mode) {
  FINESSE_BYPASS_OR_NEXT(b_fchmod(fd, mode), fchmod, fd, mode);
}
FINESSE_EXPORT int fchown(int fd, uid_t uid, gid_t gid) {
  FINESSE_BYPASS_OR_NEXT(b_fchown(fd, uid, gid), fchown, fd, uid, gid);
}
FINESSE_EXPORT int ftruncate(int fd, off_t length) {
  FINESSE_BYPASS_OR_NEXT(b_ftruncate(fd, length), ftruncate, fd, length);
}
FINESSE_EXPORT int ftruncate64(int fd, off64_t length) {
  FINESSE_BYPASS_OR_NEXT(b_ftruncate(fd, length), ftruncate64, fd, length);
}
FINESSE_EXPORT int futimens(int fd, const struct timespec times[2]) {
  FINESSE_BYPASS_OR_NEXT(b_futimens(fd, times), futimens, fd, times);
}
FINESSE_EXPORT ssize_t fgetxattr(int fd, const char *name, void *v, size_t n) {
  FINESSE_BYPASS_OR_NEXT(b_fgetxattr(fd, name, v, n), fgetxattr, fd, name, v, n);
}
FINESSE_EXPORT int fstatfs(int fd, struct statfs *st) {
  FINESSE_BYPASS_OR_NEXT(b_fstatfs(fd, st), fstatfs, fd, st);
}
FINESSE_EXPORT int fstatfs64(int fd, struct statfs64 *st) {
  FINESSE_BYPASS_OR_NEXT(b_fstatfs(fd, reinterpret_cast<struct statfs *>(st)), fstatfs64, fd,
                         st);
}
FINESSE_EXPORT int fstatvfs(int fd, struct statvfs *st) {
  FINESSE_BYPASS_OR_NEXT(b_fstatvfs(fd, st), fstatvfs, fd, st);
}
FINESSE_EXPORT int fstatvfs64(int fd, struct statvfs64 *st) {
  FINESSE_BYPASS_OR_NEXT(b_fstatvfs(fd, st), fstatvfs64, fd, st);
}
