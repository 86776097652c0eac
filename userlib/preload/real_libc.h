// The next definition (normally glibc's) of every function the shim interposes, looked up
// with dlsym(RTLD_NEXT) on its first use. On a thread inside such a lookup, where dlsym may
// call back into us (through calloc, say), NEXT() uses the raw system call of
// raw_syscalls.h instead.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <fts.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#include <atomic>

#include "raw_syscalls.h"

// glibc 2.33+ still exports these for old binaries but no longer declares them.
extern "C" {
int __xstat(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __fxstat(int ver, int fd, struct stat *st);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
int __xstat64(int ver, const char *path, struct stat64 *st);
int __lxstat64(int ver, const char *path, struct stat64 *st);
int __fxstat64(int ver, int fd, struct stat64 *st);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags);
int __open_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
}

// X(name): one entry per interposed symbol whose next definition we call.
// clang-format off
#define FINESSE_REAL_SYMBOLS(X)                                                              \
  X(open) X(open64) X(openat) X(openat64) X(__open_2) X(__open64_2) X(__openat_2)            \
  X(__openat64_2) X(creat) X(creat64) X(close) X(close_range) X(closefrom) X(closedir)       \
  X(fclose) X(dup) X(dup2) X(dup3) X(fcntl) X(fcntl64)                                       \
  X(stat) X(lstat) X(fstat) X(fstatat) X(stat64) X(lstat64) X(fstat64) X(fstatat64)          \
  X(__xstat) X(__lxstat) X(__fxstat) X(__fxstatat) X(__xstat64) X(__lxstat64) X(__fxstat64)  \
  X(__fxstatat64) X(statx) X(access) X(faccessat) X(eaccess) X(euidaccess)                   \
  X(unlink) X(unlinkat) X(mkdir) X(mkdirat) X(rmdir) X(rename) X(renameat) X(renameat2)      \
  X(chmod) X(fchmodat) X(chown) X(lchown) X(fchownat) X(truncate) X(truncate64)              \
  X(utimensat) X(utimes) X(utime) X(lutimes) X(readlink) X(readlinkat) X(symlink)            \
  X(symlinkat) X(link) X(linkat) X(statfs) X(statfs64) X(statvfs) X(statvfs64)               \
  X(getxattr) X(lgetxattr) X(listxattr) X(llistxattr)                                        \
  X(fchmod) X(fchown) X(ftruncate) X(ftruncate64) X(futimens) X(fgetxattr) X(fstatfs)        \
  X(fstatfs64) X(fstatvfs) X(fstatvfs64)                                                     \
  X(chdir) X(fchdir) X(chroot) X(unshare) X(setns) X(fts_read) X(fts64_read)                 \
  X(fts_children) X(fts64_children) X(fts_close) X(fts64_close) X(nftw) X(nftw64)           \
  X(opendir) X(fdopendir) X(readdir) X(readdir64) X(readdir_r) X(readdir64_r) X(dirfd)       \
  X(telldir) X(seekdir) X(rewinddir) X(scandir) X(scandir64) X(scandirat) X(scandirat64)
// clang-format on

namespace finesse::shim::real {

// One slot per symbol, filled on its first use: a process pays the lookups of the functions
// it calls (a dlsym each), none at load. Threads that race on a first use all look it up;
// they find the same definition.
struct Table {
#define FINESSE_REAL_FIELD(name) std::atomic<void *> name;
  FINESSE_REAL_SYMBOLS(FINESSE_REAL_FIELD)
#undef FINESSE_REAL_FIELD
};
extern constinit Table g_table;

// dlsym(RTLD_NEXT, name); nullptr inside a lookup of this thread (dlsym may call back into
// us, through calloc say).
void *lookup(const char *name);

inline void *next(std::atomic<void *> &slot, const char *name) {
  void *f = slot.load(std::memory_order_acquire);
  if (f == nullptr && (f = lookup(name)) != nullptr) slot.store(f, std::memory_order_release);
  return f;
}

}  // namespace finesse::shim::real

// The next definition of `name`, or its raw system call while that is not known.
#define NEXT(name, ...)                                                               \
  ([&] {                                                                              \
    auto f_ = reinterpret_cast<decltype(&::name)>(                                    \
        ::finesse::shim::real::next(::finesse::shim::real::g_table.name, #name));     \
    return f_ != nullptr ? f_(__VA_ARGS__) : ::finesse::shim::raw::name(__VA_ARGS__); \
  }())
