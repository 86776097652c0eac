// System-call versions of the interposed functions, with libc's signatures and errno
// convention, for the short time before dlsym has given us the real ones (see real_libc.h).
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <fts.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>
#include <utime.h>

#include <cerrno>

namespace finesse::shim::raw {

inline int ret(long r) {
  return static_cast<int>(r);
}

inline int openat(int d, const char *p, int f, mode_t m = 0) {
  return ret(syscall(SYS_openat, d, p, f, m));
}
inline int open(const char *p, int f, mode_t m = 0) {
  return raw::openat(AT_FDCWD, p, f, m);
}
inline int open64(const char *p, int f, mode_t m = 0) {
  return raw::open(p, f, m);
}
inline int openat64(int d, const char *p, int f, mode_t m = 0) {
  return raw::openat(d, p, f, m);
}
inline int __open_2(const char *p, int f) {
  return raw::open(p, f);
}
inline int __open64_2(const char *p, int f) {
  return raw::open(p, f);
}
inline int __openat_2(int d, const char *p, int f) {
  return raw::openat(d, p, f);
}
inline int __openat64_2(int d, const char *p, int f) {
  return raw::openat(d, p, f);
}
inline int creat(const char *p, mode_t m) {
  return raw::open(p, O_CREAT | O_WRONLY | O_TRUNC, m);
}
inline int creat64(const char *p, mode_t m) {
  return raw::creat(p, m);
}
inline int close(int fd) {
  return ret(syscall(SYS_close, fd));
}
inline int close_range(unsigned a, unsigned b, int f) {
  return ret(syscall(SYS_close_range, a, b, f));
}
inline void closefrom(int fd) {
  syscall(SYS_close_range, fd, ~0u, 0);
}
// No system call closes a DIR or a FILE: these are never needed before dlsym is done.
inline int closedir(DIR *) {
  return errno = EBADF, -1;
}
inline DIR *opendir(const char *) {
  return errno = ENOSYS, nullptr;
}
inline DIR *fdopendir(int) {
  return errno = ENOSYS, nullptr;
}
inline struct dirent *readdir(DIR *) {
  return errno = EBADF, nullptr;
}
inline struct dirent64 *readdir64(DIR *) {
  return errno = EBADF, nullptr;
}
inline int readdir_r(DIR *, struct dirent *, struct dirent **r) {
  return *r = nullptr, EBADF;
}
inline int readdir64_r(DIR *, struct dirent64 *, struct dirent64 **r) {
  return *r = nullptr, EBADF;
}
inline int dirfd(DIR *) {
  return errno = EINVAL, -1;
}
inline long telldir(DIR *) {
  return errno = EBADF, -1;
}
inline void seekdir(DIR *, long) {}
template <typename... A>
inline int scandir(A...) {
  return errno = ENOSYS, -1;
}
template <typename... A>
inline int scandir64(A...) {
  return errno = ENOSYS, -1;
}
template <typename... A>
inline int scandirat(A...) {
  return errno = ENOSYS, -1;
}
template <typename... A>
inline int scandirat64(A...) {
  return errno = ENOSYS, -1;
}
inline void rewinddir(DIR *) {}
inline int fclose(FILE *) {
  return errno = EBADF, EOF;
}
inline int dup(int fd) {
  return ret(syscall(SYS_dup, fd));
}
inline int dup2(int a, int b) {
  return ret(syscall(SYS_dup2, a, b));
}
inline int dup3(int a, int b, int f) {
  return ret(syscall(SYS_dup3, a, b, f));
}
inline int fcntl(int fd, int cmd, void *arg) {
  return ret(syscall(SYS_fcntl, fd, cmd, arg));
}
inline int fcntl64(int fd, int cmd, void *arg) {
  return raw::fcntl(fd, cmd, arg);
}

inline int fstatat(int d, const char *p, struct stat *st, int f) {
  return ret(syscall(SYS_newfstatat, d, p, st, f));
}
inline int fstatat64(int d, const char *p, struct stat64 *st, int f) {
  return ret(syscall(SYS_newfstatat, d, p, st, f));
}
inline int stat(const char *p, struct stat *st) {
  return raw::fstatat(AT_FDCWD, p, st, 0);
}
inline int lstat(const char *p, struct stat *st) {
  return raw::fstatat(AT_FDCWD, p, st, AT_SYMLINK_NOFOLLOW);
}
inline int fstat(int fd, struct stat *st) {
  return ret(syscall(SYS_fstat, fd, st));
}
inline int stat64(const char *p, struct stat64 *st) {
  return raw::fstatat64(AT_FDCWD, p, st, 0);
}
inline int lstat64(const char *p, struct stat64 *st) {
  return raw::fstatat64(AT_FDCWD, p, st, AT_SYMLINK_NOFOLLOW);
}
inline int fstat64(int fd, struct stat64 *st) {
  return ret(syscall(SYS_fstat, fd, st));
}
inline int __xstat(int, const char *p, struct stat *st) {
  return raw::stat(p, st);
}
inline int __lxstat(int, const char *p, struct stat *st) {
  return raw::lstat(p, st);
}
inline int __fxstat(int, int fd, struct stat *st) {
  return raw::fstat(fd, st);
}
inline int __fxstatat(int, int d, const char *p, struct stat *st, int f) {
  return raw::fstatat(d, p, st, f);
}
inline int __xstat64(int, const char *p, struct stat64 *st) {
  return raw::stat64(p, st);
}
inline int __lxstat64(int, const char *p, struct stat64 *st) {
  return raw::lstat64(p, st);
}
inline int __fxstat64(int, int fd, struct stat64 *st) {
  return raw::fstat64(fd, st);
}
inline int __fxstatat64(int, int d, const char *p, struct stat64 *st, int f) {
  return raw::fstatat64(d, p, st, f);
}
inline int statx(int d, const char *p, int f, unsigned m, struct statx *s) {
  return ret(syscall(SYS_statx, d, p, f, m, s));
}
inline int faccessat(int d, const char *p, int m, int f) {
  return ret(f == 0 ? syscall(SYS_faccessat, d, p, m) : syscall(SYS_faccessat2, d, p, m, f));
}
inline int access(const char *p, int m) {
  return raw::faccessat(AT_FDCWD, p, m, 0);
}
inline int euidaccess(const char *p, int m) {
  return raw::faccessat(AT_FDCWD, p, m, AT_EACCESS);
}
inline int eaccess(const char *p, int m) {
  return raw::euidaccess(p, m);
}
inline int unlinkat(int d, const char *p, int f) {
  return ret(syscall(SYS_unlinkat, d, p, f));
}
inline int unlink(const char *p) {
  return raw::unlinkat(AT_FDCWD, p, 0);
}
inline int rmdir(const char *p) {
  return raw::unlinkat(AT_FDCWD, p, AT_REMOVEDIR);
}
inline int mkdirat(int d, const char *p, mode_t m) {
  return ret(syscall(SYS_mkdirat, d, p, m));
}
inline int mkdir(const char *p, mode_t m) {
  return raw::mkdirat(AT_FDCWD, p, m);
}
inline int renameat2(int a, const char *p, int b, const char *q, unsigned f) {
  return ret(syscall(SYS_renameat2, a, p, b, q, f));
}
inline int renameat(int a, const char *p, int b, const char *q) {
  return raw::renameat2(a, p, b, q, 0);
}
inline int rename(const char *p, const char *q) {
  return raw::renameat(AT_FDCWD, p, AT_FDCWD, q);
}
inline int fchmodat(int d, const char *p, mode_t m, int f) {
  if (f != 0) return errno = EOPNOTSUPP, -1;  // glibc emulates; not before dlsym
  return ret(syscall(SYS_fchmodat, d, p, m));
}
inline int chmod(const char *p, mode_t m) {
  return raw::fchmodat(AT_FDCWD, p, m, 0);
}
inline int fchownat(int d, const char *p, uid_t u, gid_t g, int f) {
  return ret(syscall(SYS_fchownat, d, p, u, g, f));
}
inline int chown(const char *p, uid_t u, gid_t g) {
  return raw::fchownat(AT_FDCWD, p, u, g, 0);
}
inline int lchown(const char *p, uid_t u, gid_t g) {
  return raw::fchownat(AT_FDCWD, p, u, g, AT_SYMLINK_NOFOLLOW);
}
inline int truncate(const char *p, off_t n) {
  return ret(syscall(SYS_truncate, p, n));
}
inline int truncate64(const char *p, off64_t n) {
  return ret(syscall(SYS_truncate, p, n));
}
inline int utimensat(int d, const char *p, const struct timespec t[2], int f) {
  return ret(syscall(SYS_utimensat, d, p, t, f));
}
inline int utimes_flags(const char *p, const struct timeval tv[2], int f) {
  if (tv == nullptr) return raw::utimensat(AT_FDCWD, p, nullptr, f);
  struct timespec ts[2] = {{tv[0].tv_sec, tv[0].tv_usec * 1000},
                           {tv[1].tv_sec, tv[1].tv_usec * 1000}};
  return raw::utimensat(AT_FDCWD, p, ts, f);
}
inline int utimes(const char *p, const struct timeval tv[2]) {
  return raw::utimes_flags(p, tv, 0);
}
inline int lutimes(const char *p, const struct timeval tv[2]) {
  return raw::utimes_flags(p, tv, AT_SYMLINK_NOFOLLOW);
}
inline int utime(const char *p, const struct utimbuf *t) {
  if (t == nullptr) return raw::utimensat(AT_FDCWD, p, nullptr, 0);
  struct timespec ts[2] = {{t->actime, 0}, {t->modtime, 0}};
  return raw::utimensat(AT_FDCWD, p, ts, 0);
}
inline ssize_t readlinkat(int d, const char *p, char *b, size_t n) {
  return syscall(SYS_readlinkat, d, p, b, n);
}
inline ssize_t readlink(const char *p, char *b, size_t n) {
  return raw::readlinkat(AT_FDCWD, p, b, n);
}
inline int symlinkat(const char *t, int d, const char *p) {
  return ret(syscall(SYS_symlinkat, t, d, p));
}
inline int symlink(const char *t, const char *p) {
  return raw::symlinkat(t, AT_FDCWD, p);
}
inline int linkat(int a, const char *p, int b, const char *q, int f) {
  return ret(syscall(SYS_linkat, a, p, b, q, f));
}
inline int link(const char *p, const char *q) {
  return raw::linkat(AT_FDCWD, p, AT_FDCWD, q, 0);
}
inline int statfs(const char *p, struct statfs *s) {
  return ret(syscall(SYS_statfs, p, s));
}
inline int statfs64(const char *p, struct statfs64 *s) {
  return ret(syscall(SYS_statfs, p, s));
}
// statvfs needs glibc's conversion; before dlsym it is not available.
inline int statvfs(const char *, struct statvfs *) {
  return errno = ENOSYS, -1;
}
inline int statvfs64(const char *, struct statvfs64 *) {
  return errno = ENOSYS, -1;
}
inline int fchmod(int fd, mode_t m) {
  return ret(syscall(SYS_fchmod, fd, m));
}
inline int fchown(int fd, uid_t u, gid_t g) {
  return ret(syscall(SYS_fchown, fd, u, g));
}
inline int ftruncate(int fd, off_t n) {
  return ret(syscall(SYS_ftruncate, fd, n));
}
inline int ftruncate64(int fd, off64_t n) {
  return ret(syscall(SYS_ftruncate, fd, n));
}
inline int futimens(int fd, const struct timespec t[2]) {
  return ret(syscall(SYS_utimensat, fd, nullptr, t, 0));
}
inline ssize_t fgetxattr(int fd, const char *n, void *v, size_t s) {
  return syscall(SYS_fgetxattr, fd, n, v, s);
}
inline int fstatfs(int fd, struct statfs *s) {
  return ret(syscall(SYS_fstatfs, fd, s));
}
inline int fstatfs64(int fd, struct statfs64 *s) {
  return ret(syscall(SYS_fstatfs, fd, s));
}
inline int fstatvfs(int, struct statvfs *) {
  return errno = ENOSYS, -1;
}
inline int fstatvfs64(int, struct statvfs64 *) {
  return errno = ENOSYS, -1;
}
inline ssize_t getxattr(const char *p, const char *n, void *v, size_t s) {
  return syscall(SYS_getxattr, p, n, v, s);
}
inline ssize_t lgetxattr(const char *p, const char *n, void *v, size_t s) {
  return syscall(SYS_lgetxattr, p, n, v, s);
}
inline ssize_t listxattr(const char *p, char *l, size_t s) {
  return syscall(SYS_listxattr, p, l, s);
}
inline ssize_t llistxattr(const char *p, char *l, size_t s) {
  return syscall(SYS_llistxattr, p, l, s);
}
inline int chdir(const char *p) {
  return ret(syscall(SYS_chdir, p));
}
inline int fchdir(int fd) {
  return ret(syscall(SYS_fchdir, fd));
}
inline int chroot(const char *p) {
  return ret(syscall(SYS_chroot, p));
}
inline int unshare(int f) {
  return ret(syscall(SYS_unshare, f));
}
inline int setns(int fd, int t) {
  return ret(syscall(SYS_setns, fd, t));
}
// Tree walkers have no system call: not available before dlsym is done.
inline FTSENT *fts_read(FTS *) {
  return errno = ENOSYS, nullptr;
}
inline FTSENT64 *fts64_read(FTS64 *) {
  return errno = ENOSYS, nullptr;
}
inline FTSENT *fts_children(FTS *, int) {
  return errno = ENOSYS, nullptr;
}
inline FTSENT64 *fts64_children(FTS64 *, int) {
  return errno = ENOSYS, nullptr;
}
inline int fts_close(FTS *) {
  return errno = ENOSYS, -1;
}
inline int fts64_close(FTS64 *) {
  return errno = ENOSYS, -1;
}
inline int nftw(const char *, __nftw_func_t, int, int) {
  return errno = ENOSYS, -1;
}
inline int nftw64(const char *, __nftw64_func_t, int, int) {
  return errno = ENOSYS, -1;
}

}  // namespace finesse::shim::raw
