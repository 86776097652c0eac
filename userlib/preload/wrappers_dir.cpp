// The directory stream family: opendir and fdopendir of a directory on an attached mount
// give a stream read through the bypass (userlib/dir_stream.h); every other call that takes
// a DIR* serves ours and passes glibc's on unchanged.
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>

#include "dir_stream.h"
#include "fd_table.h"
#include "real_libc.h"
#include "shim.h"

// readdir_r is deprecated, and still exported: programs call it.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace {

using namespace finesse::shim;
using finesse::client::dir_stream_of;
using finesse::client::DirStream;

void close_fd(int fd) {
  fd_table::invalidate(fd);
  NEXT(close, fd);
  fd_table::invalidate(fd);
}

// The kernel's calls for our streams: the next definitions, and the fd table.
constexpr finesse::client::DirKernel kKernel = {
    [](const char *path) {  // as glibc's opendir opens a directory
      return NEXT(openat, AT_FDCWD, path, O_RDONLY | O_NONBLOCK | O_DIRECTORY | O_CLOEXEC);
    },
    close_fd,
    [](int fd) { return NEXT(fdopendir, fd); },
    [](DIR *d) { return NEXT(readdir64, d); },
    [](DIR *d) { return NEXT(telldir, d); },
    [](DIR *d, long pos) { NEXT(seekdir, d, pos); },
    [](DIR *d) { return NEXT(dirfd, d); },
    [](DIR *d) { return NEXT(closedir, d); },
    [](int fd, char *out, size_t cap, uint64_t *ino) {
      uint64_t mnt_id = 0;
      return fd_table::base(fd, out, cap, ino, &mnt_id);
    },
    [](const char *path, int fd) { fd_table::note_open(AT_FDCWD, path, fd); },
};

}  // namespace

FINESSE_EXPORT DIR *opendir(const char *path) {
  int saved = errno;
  DIR *d = nullptr;
  finesse::Result rc = finesse::kToKernel;
  {
    Scope scope;
    if (scope.active()) rc = finesse::client::dir_open_path(&kKernel, path, &d);
  }
  if (!rc.to_kernel()) {
    count_bypassed();
    return finesse::client::dir_answer(rc, d, saved);
  }
  errno = saved;
  return NEXT(opendir, path);
}

FINESSE_EXPORT DIR *fdopendir(int fd) {
  int saved = errno;
  DIR *d = nullptr;
  finesse::Result rc = finesse::kToKernel;
  {
    Scope scope;
    if (scope.active() && !fd_table::known_elsewhere(fd)) {
      bool elsewhere = false;
      rc = finesse::client::dir_open_fd(&kKernel, fd, &d, &elsewhere);
      if (elsewhere) fd_table::note_elsewhere(fd);
    }
  }
  if (!rc.to_kernel()) {
    count_bypassed();
    return finesse::client::dir_answer(rc, d, saved);
  }
  errno = saved;
  return NEXT(fdopendir, fd);
}

FINESSE_EXPORT struct dirent64 *readdir64(DIR *d) {
  DirStream *s = dir_stream_of(d);
  if (s == nullptr) return NEXT(readdir64, d);
  int saved = errno;
  bool failed = false;
  struct dirent64 *e;
  {
    Scope scope;  // (what it calls goes straight to libc)
    e = finesse::client::dir_next(s, scope.active(), &failed);
  }
  if (!failed) errno = saved;
  return e;
}

FINESSE_EXPORT struct dirent *readdir(DIR *d) {
  if (dir_stream_of(d) == nullptr) return NEXT(readdir, d);
  return reinterpret_cast<struct dirent *>(readdir64(d));
}

FINESSE_EXPORT int readdir64_r(DIR *d, struct dirent64 *entry, struct dirent64 **result) {
  if (dir_stream_of(d) == nullptr) return NEXT(readdir64_r, d, entry, result);
  int saved = errno;
  errno = 0;
  struct dirent64 *e = readdir64(d);
  int err = e == nullptr ? errno : 0;
  errno = saved;
  if (e != nullptr) {
    memcpy(entry, e, e->d_reclen);
    *result = entry;
  } else {
    *result = nullptr;
  }
  return err;
}

FINESSE_EXPORT int readdir_r(DIR *d, struct dirent *entry, struct dirent **result) {
  if (dir_stream_of(d) == nullptr) return NEXT(readdir_r, d, entry, result);
  return readdir64_r(d, reinterpret_cast<struct dirent64 *>(entry),
                     reinterpret_cast<struct dirent64 **>(result));
}

FINESSE_EXPORT long telldir(DIR *d) {
  DirStream *s = dir_stream_of(d);
  if (s == nullptr) return NEXT(telldir, d);
  Scope scope;
  return finesse::client::dir_tell(s);
}

FINESSE_EXPORT void seekdir(DIR *d, long pos) {
  DirStream *s = dir_stream_of(d);
  if (s == nullptr) return NEXT(seekdir, d, pos);
  int saved = errno;
  {
    Scope scope;
    finesse::client::dir_seek(s, pos, scope.active());
  }
  errno = saved;
}

FINESSE_EXPORT void rewinddir(DIR *d) {
  if (dir_stream_of(d) == nullptr) return NEXT(rewinddir, d);
  seekdir(d, 0);
}

FINESSE_EXPORT int dirfd(DIR *d) {
  DirStream *s = dir_stream_of(d);
  if (s == nullptr) return NEXT(dirfd, d);
  int saved = errno;
  int fd;
  {
    Scope scope;
    fd = finesse::client::dir_fd(s);
  }
  if (fd >= 0) errno = saved;
  return fd;
}

namespace {

// glibc's scandir on a stream of ours (its scandir-tail-common.c, through our readdir64 and
// closedir): entries kept by select, copied with malloc, sorted by cmp; readdir's error,
// or an allocation's, fails it all with that errno.
template <typename Ent>
int scan(DIR *d, Ent ***namelist, int (*select)(const Ent *),
         int (*cmp)(const Ent **, const Ent **)) {
  int saved = errno;
  errno = 0;
  Ent **v = nullptr;
  size_t cnt = 0, vsize = 0;
  Ent *e;
  while ((e = reinterpret_cast<Ent *>(readdir64(d))) != nullptr) {
    if (select != nullptr) {
      int selected = select(e);
      errno = 0;  // (it may have set errno on success)
      if (!selected) continue;
    }
    if (cnt == vsize) {
      vsize = vsize == 0 ? 10 : 2 * vsize;
      auto **nv = static_cast<Ent **>(realloc(v, vsize * sizeof(*v)));
      if (nv == nullptr) break;
      v = nv;
    }
    auto *copy = static_cast<Ent *>(malloc(e->d_reclen));
    if (copy == nullptr) break;
    v[cnt++] = static_cast<Ent *>(memcpy(copy, e, e->d_reclen));
    errno = 0;
  }
  int result;
  if (errno != 0) {
    saved = errno;
    while (cnt > 0) free(v[--cnt]);
    free(v);
    result = -1;
  } else {
    if (cmp != nullptr)
      qsort(v, cnt, sizeof(*v), reinterpret_cast<int (*)(const void *, const void *)>(cmp));
    *namelist = v;
    result = static_cast<int>(cnt);
  }
  closedir(d);
  errno = saved;
  return result;
}

// A stream of ours for scandir(at): 0, -errno, or kToKernel.
finesse::Result scan_open(int dirfd, const char *path, DIR **d) {
  if (path == nullptr || (dirfd != AT_FDCWD && path[0] != '/')) return finesse::kToKernel;
  Scope scope;
  if (!scope.active()) return finesse::kToKernel;
  return finesse::client::dir_open_path(&kKernel, path, d);
}

}  // namespace

// glibc's scandir lists inside libc: served here, as glibc does it, for a directory ours.
#define FINESSE_SCANDIR(name, Ent)                                                       \
  FINESSE_EXPORT int name(const char *path, Ent ***namelist, int (*select)(const Ent *), \
                          int (*cmp)(const Ent **, const Ent **)) {                      \
    int saved = errno;                                                                   \
    DIR *d = nullptr;                                                                    \
    finesse::Result rc = scan_open(AT_FDCWD, path, &d);                                  \
    errno = saved;                                                                       \
    if (rc.to_kernel()) return NEXT(name, path, namelist, select, cmp);                  \
    count_bypassed();                                                                    \
    if (!rc.ok()) return errno = static_cast<int>(-rc.rc()), -1;                         \
    return scan(d, namelist, select, cmp);                                               \
  }
FINESSE_SCANDIR(scandir, struct dirent)
FINESSE_SCANDIR(scandir64, struct dirent64)
#define FINESSE_SCANDIRAT(name, Ent)                                                            \
  FINESSE_EXPORT int name(int dirfd, const char *path, Ent ***namelist,                         \
                          int (*select)(const Ent *), int (*cmp)(const Ent **, const Ent **)) { \
    int saved = errno;                                                                          \
    DIR *d = nullptr;                                                                           \
    finesse::Result rc = scan_open(dirfd, path, &d);                                            \
    errno = saved;                                                                              \
    if (rc.to_kernel()) return NEXT(name, dirfd, path, namelist, select, cmp);                  \
    count_bypassed();                                                                           \
    if (!rc.ok()) return errno = static_cast<int>(-rc.rc()), -1;                                \
    return scan(d, namelist, select, cmp);                                                      \
  }
FINESSE_SCANDIRAT(scandirat, struct dirent)
FINESSE_SCANDIRAT(scandirat64, struct dirent64)

// glibc's closedir closes the fd inside libc: the fd table hears of it here.
FINESSE_EXPORT int closedir(DIR *d) {
  DirStream *s = dir_stream_of(d);
  if (s != nullptr) {
    Scope scope;
    return finesse::client::dir_close(s, scope.active());
  }
  int fd = d != nullptr ? NEXT(dirfd, d) : -1;
  if (!disabled()) fd_table::invalidate(fd);
  int rc = NEXT(closedir, d);
  if (!disabled()) fd_table::invalidate(fd);
  return rc;
}
