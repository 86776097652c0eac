// The open/close/dup family: passed to libc unchanged, watched to keep the fd table right.
#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "fd_table.h"
#include "real_libc.h"
#include "shim.h"

namespace {

using namespace finesse::shim;

bool needs_mode(int flags) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

// What before_open found: kUnknown (it did not look), or whether the path lay on an attached
// mount just before the real open.
enum Seen { kUnknown, kOffMount, kOnMount };

// Records fd if it is a directory on an attached mount (opened with O_DIRECTORY, as opendir,
// fts and find do); the caller's errno is kept. Any other fd is learned on its first use
// (fd_table::known_or_learn): a program reading files (grep -r) pays nothing per open. A
// directory before_open found off any attached mount is not looked at again (a cwd changed
// by another thread meanwhile only leaves the fd to be learned on its first use).
int after_open(int dirfd, const char *path, int flags, int fd, Seen seen = kUnknown) {
  if (fd < 0 || disabled()) return fd;
  int saved = errno;
  {
    Scope scope;
    if (scope.active() && (flags & O_DIRECTORY) && seen != kOffMount)
      fd_table::note_open(dirfd, path, fd);
    else
      fd_table::invalidate(fd);
  }
  errno = saved;
  return fd;
}

// Before the real open: see fd_table::expect_listing. Not for O_PATH (a base for *at calls:
// no OPENDIR for the wake-up to overlap, and mostly no listing).
Seen before_open(int dirfd, const char *path, int flags) {
  if ((flags & (O_DIRECTORY | O_PATH)) != O_DIRECTORY || disabled()) return kUnknown;
  int saved = errno;
  Seen seen = kUnknown;
  {
    Scope scope;
    if (scope.active()) seen = fd_table::expect_listing(dirfd, path) ? kOnMount : kOffMount;
  }
  errno = saved;
  return seen;
}

int after_dup(int oldfd, int newfd) {
  if (newfd < 0 || disabled()) return newfd;
  int saved = errno;
  fd_table::note_dup(oldfd, newfd);
  errno = saved;
  return newfd;
}

void invalidate(int fd) {
  if (!disabled()) fd_table::invalidate(fd);
}

}  // namespace

// The mode argument open and openat take only with O_CREAT or O_TMPFILE (read in the
// variadic function itself).
#define FINESSE_MODE_ARG(flags, mode)                  \
  mode_t mode = 0;                                     \
  if (needs_mode(flags)) {                             \
    va_list ap;                                        \
    va_start(ap, flags);                               \
    mode = static_cast<mode_t>(va_arg(ap, int));       \
    va_end(ap);                                        \
  }
#define FINESSE_OPEN_WRAPPER(name)                                                 \
  FINESSE_EXPORT int name(const char *path, int flags, ...) {                      \
    FINESSE_MODE_ARG(flags, mode)                                                  \
    const Seen seen = before_open(AT_FDCWD, path, flags);                          \
    return after_open(AT_FDCWD, path, flags, NEXT(name, path, flags, mode), seen); \
  }
#define FINESSE_OPENAT_WRAPPER(name)                                                   \
  FINESSE_EXPORT int name(int dirfd, const char *path, int flags, ...) {               \
    FINESSE_MODE_ARG(flags, mode)                                                      \
    const Seen seen = before_open(dirfd, path, flags);                                 \
    return after_open(dirfd, path, flags, NEXT(name, dirfd, path, flags, mode), seen); \
  }

FINESSE_OPEN_WRAPPER(open)
FINESSE_OPEN_WRAPPER(open64)
FINESSE_OPENAT_WRAPPER(openat)
FINESSE_OPENAT_WRAPPER(openat64)

FINESSE_EXPORT int __open_2(const char *path, int flags) {
  return after_open(AT_FDCWD, path, flags, NEXT(__open_2, path, flags));
}
FINESSE_EXPORT int __open64_2(const char *path, int flags) {
  return after_open(AT_FDCWD, path, flags, NEXT(__open64_2, path, flags));
}
FINESSE_EXPORT int __openat_2(int dirfd, const char *path, int flags) {
  return after_open(dirfd, path, flags, NEXT(__openat_2, dirfd, path, flags));
}
FINESSE_EXPORT int __openat64_2(int dirfd, const char *path, int flags) {
  return after_open(dirfd, path, flags, NEXT(__openat64_2, dirfd, path, flags));
}
FINESSE_EXPORT int creat(const char *path, mode_t mode) {
  return after_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, NEXT(creat, path, mode));
}
FINESSE_EXPORT int creat64(const char *path, mode_t mode) {
  return after_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, NEXT(creat64, path, mode));
}

// Invalidate before (nobody may trust the number while it is being closed) and after (a
// record written meanwhile by a racing open of the old file is void too).
FINESSE_EXPORT int close(int fd) {
  invalidate(fd);
  int rc = NEXT(close, fd);
  invalidate(fd);
  return rc;
}

FINESSE_EXPORT int close_range(unsigned first, unsigned last, int flags) {
  bool closes = !(flags & CLOSE_RANGE_CLOEXEC) && !disabled();
  if (closes) fd_table::invalidate_range(first, last);
  int rc = NEXT(close_range, first, last, flags);
  if (closes) fd_table::invalidate_range(first, last);
  return rc;
}

FINESSE_EXPORT void closefrom(int lowfd) {
  bool on = lowfd >= 0 && !disabled();
  if (on) fd_table::invalidate_range(static_cast<unsigned>(lowfd), ~0u);
  NEXT(closefrom, lowfd);
  if (on) fd_table::invalidate_range(static_cast<unsigned>(lowfd), ~0u);
}

// fdopen hands an fd we may know to stdio: its close is libc-internal (closedir, likewise:
// wrappers_dir.cpp).
FINESSE_EXPORT int fclose(FILE *f) {
  int fd = f != nullptr ? fileno(f) : -1;
  invalidate(fd);
  int rc = NEXT(fclose, f);
  invalidate(fd);
  return rc;
}

FINESSE_EXPORT int dup(int fd) {
  return after_dup(fd, NEXT(dup, fd));
}

FINESSE_EXPORT int dup2(int fd, int fd2) {
  if (fd == fd2) return NEXT(dup2, fd, fd2);  // nothing is closed
  invalidate(fd2);
  int rc = NEXT(dup2, fd, fd2);
  invalidate(fd2);
  return after_dup(fd, rc);
}

FINESSE_EXPORT int dup3(int fd, int fd2, int flags) {
  invalidate(fd2);
  int rc = NEXT(dup3, fd, fd2, flags);
  invalidate(fd2);
  return after_dup(fd, rc);
}

#define FINESSE_FCNTL_WRAPPER(name)                                           \
  FINESSE_EXPORT int name(int fd, int cmd, ...) {                             \
    va_list ap;                                                               \
    va_start(ap, cmd);                                                        \
    void *arg = va_arg(ap, void *); /* as glibc: every fcntl argument fits */ \
    va_end(ap);                                                               \
    int rc = NEXT(name, fd, cmd, arg);                                        \
    if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) return after_dup(fd, rc);   \
    return rc;                                                                \
  }

FINESSE_FCNTL_WRAPPER(fcntl)
FINESSE_FCNTL_WRAPPER(fcntl64)
