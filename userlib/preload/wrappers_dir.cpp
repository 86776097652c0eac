// The directory stream family: opendir and fdopendir of a directory on an attached mount
// give a stream read through the bypass (dir_stream.h); every other call that takes a DIR*
// serves ours and passes glibc's on unchanged.
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "dir_stream.h"
#include "fd_table.h"
#include "real_libc.h"
#include "shim.h"

// readdir_r is deprecated, and still exported: programs call it.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace {

using namespace finesse::shim;

// A bypassed open's answer as libc gives it: the stream, or null with errno.
DIR *opened(finesse::Result rc, DIR *d, int saved_errno) {
  count_bypassed();
  if (!rc.ok()) {
    errno = static_cast<int>(-rc.rc());
    return nullptr;
  }
  errno = saved_errno;
  return d;
}

}  // namespace

FINESSE_EXPORT DIR *opendir(const char *path) {
  int saved = errno;
  DIR *d = nullptr;
  finesse::Result rc = finesse::kToKernel;
  {
    Scope scope;
    if (scope.active()) rc = dirs::open_path(path, &d);
  }
  if (!rc.to_kernel()) return opened(rc, d, saved);
  errno = saved;
  return NEXT(opendir, path);
}

FINESSE_EXPORT DIR *fdopendir(int fd) {
  int saved = errno;
  DIR *d = nullptr;
  finesse::Result rc = finesse::kToKernel;
  {
    Scope scope;
    if (scope.active()) rc = dirs::open_fd(fd, &d);
  }
  if (!rc.to_kernel()) return opened(rc, d, saved);
  errno = saved;
  return NEXT(fdopendir, fd);
}

FINESSE_EXPORT struct dirent64 *readdir64(DIR *d) {
  dirs::Stream *s = dirs::ours(d);
  if (s == nullptr) return NEXT(readdir64, d);
  int saved = errno;
  bool failed = false;
  struct dirent64 *e;
  {
    Scope scope;  // (what it calls goes straight to libc)
    e = dirs::next(s, &failed);
  }
  if (!failed) errno = saved;
  return e;
}

FINESSE_EXPORT struct dirent *readdir(DIR *d) {
  if (dirs::ours(d) == nullptr) return NEXT(readdir, d);
  return reinterpret_cast<struct dirent *>(readdir64(d));
}

FINESSE_EXPORT int readdir64_r(DIR *d, struct dirent64 *entry, struct dirent64 **result) {
  if (dirs::ours(d) == nullptr) return NEXT(readdir64_r, d, entry, result);
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
  if (dirs::ours(d) == nullptr) return NEXT(readdir_r, d, entry, result);
  return readdir64_r(d, reinterpret_cast<struct dirent64 *>(entry),
                     reinterpret_cast<struct dirent64 **>(result));
}

FINESSE_EXPORT long telldir(DIR *d) {
  dirs::Stream *s = dirs::ours(d);
  if (s == nullptr) return NEXT(telldir, d);
  Scope scope;
  return dirs::tell(s);
}

FINESSE_EXPORT void seekdir(DIR *d, long pos) {
  dirs::Stream *s = dirs::ours(d);
  if (s == nullptr) return NEXT(seekdir, d, pos);
  int saved = errno;
  {
    Scope scope;
    dirs::seek(s, pos);
  }
  errno = saved;
}

FINESSE_EXPORT void rewinddir(DIR *d) {
  dirs::Stream *s = dirs::ours(d);
  if (s == nullptr) return NEXT(rewinddir, d);
  int saved = errno;
  {
    Scope scope;
    dirs::rewind(s);
  }
  errno = saved;
}

FINESSE_EXPORT int dirfd(DIR *d) {
  dirs::Stream *s = dirs::ours(d);
  if (s == nullptr) return NEXT(dirfd, d);
  int saved = errno;
  int fd;
  {
    Scope scope;
    fd = dirs::fd_of(s);
  }
  if (fd >= 0) errno = saved;
  return fd;
}

// glibc's closedir closes the fd inside libc: the fd table hears of it here.
FINESSE_EXPORT int closedir(DIR *d) {
  dirs::Stream *s = dirs::ours(d);
  if (s != nullptr) {
    Scope scope;
    return dirs::close(s);
  }
  int fd = d != nullptr ? NEXT(dirfd, d) : -1;
  if (!disabled()) fd_table::invalidate(fd);
  int rc = NEXT(closedir, d);
  if (!disabled()) fd_table::invalidate(fd);
  return rc;
}
