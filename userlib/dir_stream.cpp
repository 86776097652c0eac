#include "dir_stream.h"

#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <new>

#include "bypass_ops.h"
#include "fd_file.h"

namespace finesse::client {

namespace {

// A DIR* of ours begins with these two words. Read as glibc's DIR, the first would be a
// negative fd: glibc's never begins so.
constexpr uint32_t kMagic0 = 0xf1e55e00u;
constexpr uint32_t kMagic1 = 0x44495253u;

static_assert(sizeof(struct dirent) == sizeof(struct dirent64));
static_assert(offsetof(struct dirent, d_name) == offsetof(struct dirent64, d_name));

}  // namespace

struct DirStream {
  uint32_t magic0 = kMagic0;
  uint32_t magic1 = kMagic1;
  const DirKernel *k = nullptr;
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;  // readdir may come from several threads
  DIR *kernel = nullptr;           // after a fallback, glibc's stream on fd: everything goes there
  int fd = -1;                     // the directory's kernel fd, if the stream has one
  long filepos = 0;                // telldir: the cookie after the last entry given (0 before any)
  size_t pos = 0;                  // the next entry in l.data
  Listing l;                       // the entries of the last reply
  char path[wire::kPathMax] = "";  // absolute; empty for fdopendir's
  struct dirent64 ent;
};

namespace {

class Locked {
 public:
  explicit Locked(DirStream *s) : s_(s) { pthread_mutex_lock(&s_->mu); }
  ~Locked() { pthread_mutex_unlock(&s_->mu); }
  Locked(const Locked &) = delete;
  Locked &operator=(const Locked &) = delete;

 private:
  DirStream *s_;
};

// calloc, not new: the shim needs nothing beyond libc.
DirStream *alloc_stream() {
  void *mem = calloc(1, sizeof(DirStream));
  return mem != nullptr ? new (mem) DirStream : nullptr;
}

void free_stream(DirStream *s) {
  s->magic0 = s->magic1 = 0;
  pthread_mutex_destroy(&s->mu);
  s->~DirStream();
  free(s);
}

// Gives back the rest of the listing, if the server keeps one (without server_ok it keeps it
// until the connection closes).
void give_back(DirStream *s, bool server_ok) {
  if (s->l.stream != 0 && server_ok) b_list_release(s->l.mnt_id, s->l.stream);
  s->l.stream = 0;
}

// The directory's kernel fd: fdopendir's, or its path opened now and checked to be the
// listed directory (it may have been renamed or removed since).
int fd_locked(DirStream *s) {
  if (s->kernel != nullptr) return s->k->dirfd(s->kernel);
  if (s->fd >= 0) return s->fd;
  if (s->path[0] == '\0') return errno = EBADF, -1;
  int fd = s->k->open_dir(s->path);
  if (fd < 0) return -1;
  uint64_t node = 0, mnt_id = 0;
  if (!fd_fuse_node(fd, &node, &mnt_id) || node != s->l.node || mnt_id != s->l.mnt_id) {
    s->k->close_fd(fd);
    return errno = ENOENT, -1;
  }
  if (s->k->opened != nullptr) s->k->opened(s->path, fd);
  return s->fd = fd;
}

// Goes on through the kernel from the last entry given: glibc's stream on the fd,
// positioned at its cookie.
bool to_kernel_locked(DirStream *s, bool server_ok) {
  give_back(s, server_ok);
  int fd = fd_locked(s);
  if (fd < 0) return false;
  if (lseek(fd, s->filepos, SEEK_SET) < 0) return false;
  DIR *d = s->k->fdopendir(fd);
  if (d == nullptr) return false;
  s->kernel = d;
  return true;
}

// Lists the directory again from cookie off (seekdir, rewinddir): on the fd if the stream
// has one, else by path, checked to name the same directory; else through the kernel. False
// when neither can (the directory went): the stream then gives no more entries.
bool relist_locked(DirStream *s, long off, bool server_ok) {
  give_back(s, server_ok);
  s->filepos = off;
  s->pos = 0;
  uint64_t ino = s->l.ino, node = s->l.node, mnt_id = s->l.mnt_id;
  Result rc = kToKernel;
  if (server_ok)
    rc = s->fd >= 0 ? b_list_fd(s->fd, static_cast<uint64_t>(off), &s->l)
                    : b_list_path(s->path, static_cast<uint64_t>(off), ino, &s->l, nullptr);
  if (rc.ok() && s->l.node == node && s->l.mnt_id == mnt_id) return true;
  give_back(s, server_ok);
  s->l.len = 0;
  s->l.end = true;
  s->l.node = node;
  s->l.mnt_id = mnt_id;
  s->l.ino = ino;
  return to_kernel_locked(s, server_ok);
}

}  // namespace

DirStream *dir_stream_of(DIR *d) {
  if (d == nullptr) return nullptr;
  auto *s = reinterpret_cast<DirStream *>(d);
  return s->magic0 == kMagic0 && s->magic1 == kMagic1 ? s : nullptr;
}

Result dir_open_path(const DirKernel *k, const char *path, DIR **out) {
  if (path == nullptr) return kToKernel;
  DirStream *s = alloc_stream();
  if (s == nullptr) return kToKernel;
  s->k = k;
  Result rc = b_list_path(path, 0, 0, &s->l, s->path);
  if (!rc.ok()) {
    free_stream(s);
    return rc;
  }
  *out = reinterpret_cast<DIR *>(s);
  return 0;
}

Result dir_open_fd(const DirKernel *k, int fd, DIR **out, bool *elsewhere) {
  if (fd < 0) return kToKernel;
  // glibc's reads on from where the fd is; ours begin at the start.
  if (syscall(SYS_lseek, fd, 0, SEEK_CUR) != 0) return kToKernel;
  DirStream *s = alloc_stream();
  if (s == nullptr) return kToKernel;
  s->k = k;
  // A directory fd whose path the library knows (the shim's fd table: opened with
  // O_DIRECTORY, as fts opens them) goes by that path, checked by inode: the server's walk
  // keeps the directory in its cache, and with it the entries' attributes for the stat calls
  // after the listing. Else by the fd's node.
  uint64_t ino = 0;
  Result rc = kToKernel;
  if (k->fd_path != nullptr && k->fd_path(fd, s->path, sizeof(s->path), &ino))
    rc = b_list_path(s->path, 0, ino, &s->l, nullptr);
  if (!rc.ok()) {
    s->path[0] = '\0';
    rc = b_list_fd(fd, 0, &s->l, elsewhere);
  }
  if (!rc.ok()) {  // a refusal is the kernel's to give: the fd may allow what a path does not
    free_stream(s);
    return kToKernel;
  }
  s->fd = fd;
  *out = reinterpret_cast<DIR *>(s);
  return 0;
}

DIR *dir_answer(Result rc, DIR *d, int saved_errno) {
  if (!rc.ok()) {
    errno = static_cast<int>(-rc.rc());
    return nullptr;
  }
  errno = saved_errno;
  return d;
}

struct dirent64 *dir_next(DirStream *s, bool server_ok, bool *failed) {
  Locked g(s);
  *failed = false;
  if (s->kernel == nullptr && s->pos >= s->l.len) {
    if (s->l.end) return nullptr;
    Result rc = server_ok ? b_list_more(&s->l) : Result(kToKernel);
    s->pos = 0;
    if (!rc.ok()) {
      s->l.len = 0;
      s->l.end = true;
      if (!to_kernel_locked(s, server_ok)) {
        *failed = true;
        if (errno == 0) errno = EIO;
        return nullptr;
      }
    }
  }
  if (s->kernel != nullptr) {
    int saved = errno;
    errno = 0;
    struct dirent64 *e = s->k->readdir(s->kernel);
    if (e != nullptr) s->filepos = e->d_off;
    if (e == nullptr && errno != 0)
      *failed = true;
    else
      errno = saved;
    return e;
  }
  if (s->pos >= s->l.len) return nullptr;
  auto *e = reinterpret_cast<const wire::DirEntry *>(s->l.data + s->pos);
  s->pos += wire::entry_size(*e);
  struct dirent64 &d = s->ent;
  d.d_ino = e->ino;
  d.d_off = static_cast<off64_t>(e->off);
  d.d_type = e->type;
  d.d_reclen = static_cast<unsigned short>(
      (offsetof(struct dirent64, d_name) + e->namelen + 1 + 7) & ~size_t{7});
  memcpy(d.d_name, e->name, e->namelen + 1u);
  s->filepos = d.d_off;
  return &d;
}

long dir_tell(DirStream *s) {
  Locked g(s);
  return s->kernel != nullptr ? s->k->telldir(s->kernel) : s->filepos;
}

void dir_seek(DirStream *s, long pos, bool server_ok) {
  Locked g(s);
  if (s->kernel != nullptr) return s->k->seekdir(s->kernel, pos);
  if (pos != 0) {
    // A cookie of this reply's entries: on from the entry after it.
    for (size_t at = 0; at < s->l.len;) {
      auto *e = reinterpret_cast<const wire::DirEntry *>(s->l.data + at);
      at += wire::entry_size(*e);
      if (static_cast<long>(e->off) == pos) {
        s->pos = at;
        s->filepos = pos;
        return;
      }
    }
  }
  relist_locked(s, pos, server_ok);
}

int dir_fd(DirStream *s) {
  Locked g(s);
  return fd_locked(s);
}

int dir_close(DirStream *s, bool server_ok) {
  int rc = 0;
  {
    Locked g(s);
    give_back(s, server_ok);
    if (s->kernel != nullptr)
      rc = s->k->closedir(s->kernel);  // glibc's stream closes the fd
    else if (s->fd >= 0)
      s->k->close_fd(s->fd);
  }
  free_stream(s);
  return rc;
}

}  // namespace finesse::client
