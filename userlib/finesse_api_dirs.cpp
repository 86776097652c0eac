// libfinesse's directory streams (include/finesse/finesse.h): dir_stream.h's streams where
// the bypass lists the directory, libc's otherwise.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bypass_ops.h"
#include "dir_stream.h"
#include "fd_file.h"
#include "finesse/finesse.h"

using namespace finesse::client;

namespace {

constexpr DirKernel kKernel = {
    [](const char *path) {  // as glibc's opendir opens a directory
      return open(path, O_RDONLY | O_NONBLOCK | O_DIRECTORY | O_CLOEXEC);
    },
    [](int fd) { close(fd); },
    fdopendir,
    readdir64,
    telldir,
    seekdir,
    dirfd,
    closedir,
    // No fd table: the fd's path from /proc/self/fd, checked by the server against the
    // inode fstat gives (the node route needs a connection made before; this one makes it).
    [](int fd, char *out, size_t cap, uint64_t *ino) {
      struct stat st;
      if (fd_path(fd, out, cap) == 0 || fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) return false;
      *ino = st.st_ino;
      return true;
    },
    nullptr,
};

}  // namespace

#define API extern "C" __attribute__((visibility("default")))

API DIR *finesse_opendir(const char *path) {
  int saved = errno;
  DIR *d = nullptr;
  finesse::Result rc = dir_open_path(&kKernel, path, &d);
  if (!rc.to_kernel()) {
    note_route(true);
    return dir_answer(rc, d, saved);
  }
  note_route(false);
  errno = saved;
  return opendir(path);
}

API DIR *finesse_fdopendir(int fd) {
  int saved = errno;
  DIR *d = nullptr;
  finesse::Result rc = dir_open_fd(&kKernel, fd, &d, nullptr);
  if (!rc.to_kernel()) {
    note_route(true);
    return dir_answer(rc, d, saved);
  }
  note_route(false);
  errno = saved;
  return fdopendir(fd);
}

API struct dirent *finesse_readdir(DIR *d) {
  DirStream *s = dir_stream_of(d);
  if (s == nullptr) return readdir(d);
  int saved = errno;
  bool failed = false;
  struct dirent64 *e = dir_next(s, true, &failed);
  if (!failed) errno = saved;
  return reinterpret_cast<struct dirent *>(e);
}

API long finesse_telldir(DIR *d) {
  DirStream *s = dir_stream_of(d);
  return s != nullptr ? dir_tell(s) : telldir(d);
}

API void finesse_seekdir(DIR *d, long pos) {
  DirStream *s = dir_stream_of(d);
  if (s == nullptr) return seekdir(d, pos);
  int saved = errno;
  dir_seek(s, pos, true);
  errno = saved;
}

API void finesse_rewinddir(DIR *d) {
  if (dir_stream_of(d) == nullptr) return rewinddir(d);
  finesse_seekdir(d, 0);
}

API int finesse_dirfd(DIR *d) {
  DirStream *s = dir_stream_of(d);
  if (s == nullptr) return dirfd(d);
  int saved = errno;
  int fd = dir_fd(s);
  if (fd >= 0) errno = saved;
  return fd;
}

API int finesse_closedir(DIR *d) {
  DirStream *s = dir_stream_of(d);
  return s != nullptr ? dir_close(s, true) : closedir(d);
}
