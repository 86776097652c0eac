// One handler per operation, each ending in exactly one fuse_reply_*. Handlers use only the
// public request API (fuse_req_userdata, fuse_req_ctx, fuse_reply_*), so they also serve
// synthetic requests made outside libfuse's worker threads. Node ids are looked up in the
// inode table (never cast to pointers), so an unknown id is an ENOENT, not a crash.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "common/debug_xattr.h"
#include "common/posix_acl.h"
#include "passthrough/fs_credentials.h"
#include "passthrough/passthrough.h"

namespace finesse::examples::passthrough {
namespace {

Passthrough &fs_of(fuse_req_t req) {
  return *static_cast<Passthrough *>(fuse_req_userdata(req));
}

std::shared_ptr<Inode> inode_of(fuse_req_t req, fuse_ino_t ino) {
  return fs_of(req).inodes().find(ino);
}

bool is_nlookup_xattr(fuse_ino_t ino, const char *name) {
  return ino == FUSE_ROOT_ID && std::strcmp(name, kNlookupXattr) == 0;
}

// Replies with a new entry; if the kernel did not take it, its lookup is not counted.
void reply_entry_or_error(fuse_req_t req, int error, const fuse_entry_param &entry) {
  if (error) {
    fuse_reply_err(req, error);
  } else if (fuse_reply_entry(req, &entry) != 0) {
    fs_of(req).inodes().forget(entry.ino, 1);
  }
}

// Runs `make_node` (mknodat, mkdirat, ...; returning -1 with errno on failure) with the
// caller's fsuid/fsgid, then looks the new name up.
template <typename MakeNode>
int make_node_as_caller(fuse_req_t req, const Inode &parent, const char *name, MakeNode make_node,
                        fuse_entry_param *entry) {
  if (std::strlen(name) > NAME_MAX) return ENAMETOOLONG;
  const fuse_ctx *ctx = fuse_req_ctx(req);
  {
    ScopedFsCredentials as_caller(ctx->uid, ctx->gid);
    if (make_node() != 0) return errno;
  }
  return fs_of(req).lookup(parent, name, entry);
}

// Sets the times selected by `to_set` (FUSE_SET_ATTR_*) on an inode or an open file.
int set_times(const Inode &inode, const struct stat &wanted, int to_set, fuse_file_info *fi) {
  timespec times[2];
  times[0].tv_nsec = UTIME_OMIT;
  times[1].tv_nsec = UTIME_OMIT;
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    times[0].tv_nsec = UTIME_NOW;
  } else if (to_set & FUSE_SET_ATTR_ATIME) {
    times[0] = wanted.st_atim;
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
    times[1].tv_nsec = UTIME_NOW;
  } else if (to_set & FUSE_SET_ATTR_MTIME) {
    times[1] = wanted.st_mtim;
  }
  if (fi != nullptr) return futimens(static_cast<int>(fi->fh), times);
  // The O_PATH fd itself (not a path through /proc, which costs a walk of /proc each time).
  return utimensat(inode.path_fd(), "", times, AT_EMPTY_PATH);
}

// chmod of the O_PATH fd: fchmodat2(AT_EMPTY_PATH) where the kernel has it (6.6), else the fd's
// /proc path.
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452  // the same number on every architecture (Linux 6.6)
#endif
int chmod_inode(const Inode &inode, mode_t mode) {
  static std::atomic<bool> no_fchmodat2{false};
  if (!no_fchmodat2.load(std::memory_order_relaxed)) {
    if (syscall(SYS_fchmodat2, inode.path_fd(), "", mode, AT_EMPTY_PATH) == 0) return 0;
    if (errno != ENOSYS && errno != EINVAL) return -1;
    no_fchmodat2.store(true, std::memory_order_relaxed);
  }
  return chmod(proc_path(inode.path_fd()).c_str(), mode);
}

int apply_setattr(const Inode &inode, const struct stat &wanted, int to_set, fuse_file_info *fi) {
  if (to_set & FUSE_SET_ATTR_MODE) {
    int result =
        fi ? fchmod(static_cast<int>(fi->fh), wanted.st_mode) : chmod_inode(inode, wanted.st_mode);
    if (result != 0) return errno;
  }
  if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? wanted.st_uid : static_cast<uid_t>(-1);
    gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? wanted.st_gid : static_cast<gid_t>(-1);
    if (fchownat(inode.path_fd(), "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
      return errno;
    }
  }
  if (to_set & FUSE_SET_ATTR_SIZE) {
    int result = fi ? ftruncate(static_cast<int>(fi->fh), wanted.st_size)
                    : truncate(proc_path(inode.path_fd()).c_str(), wanted.st_size);
    if (result != 0) return errno;
  }
  if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
                FUSE_SET_ATTR_MTIME_NOW)) {
    if (set_times(inode, wanted, to_set, fi) != 0) return errno;
  }
  return 0;
}

// getxattr/listxattr protocol: size 0 asks for the length, a short buffer is ERANGE.
void reply_xattr_data(fuse_req_t req, const std::string &data, size_t size) {
  if (size == 0) {
    fuse_reply_xattr(req, data.size());
  } else if (size < data.size()) {
    fuse_reply_err(req, ERANGE);
  } else {
    fuse_reply_buf(req, data.data(), data.size());
  }
}

// An open directory stream plus the entry that did not fit into the previous reply.
struct DirHandle {
  explicit DirHandle(DIR *stream) : stream(stream) {}
  ~DirHandle() { closedir(stream); }
  std::mutex mutex;  // readdir on one handle may come from several threads
  DIR *stream;
  off_t offset = 0;
  dirent *pending = nullptr;
};

void pt_init(void *, fuse_conn_info *conn) {
  // The kernel clears setuid/setgid bits on write and chown itself: the daemon runs as root,
  // and the source file system would not clear them for a privileged writer.
  conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
}

void pt_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  Passthrough &fs = fs_of(req);
  std::shared_ptr<Inode> dir = fs.inodes().find(parent);
  fuse_entry_param entry{};
  int error;
  if (dir == nullptr) {
    error = ENOENT;
  } else if (std::strlen(name) > NAME_MAX) {
    error = ENAMETOOLONG;
  } else {
    error = fs.lookup(*dir, name, &entry);
    if (error == ENOENT && fs.timeouts().negative > 0) {
      // ino 0 caches the negative answer in the kernel for entry_timeout seconds.
      entry = fuse_entry_param{};
      entry.entry_timeout = fs.timeouts().negative;
      fuse_reply_entry(req, &entry);
      return;
    }
  }
  reply_entry_or_error(req, error, entry);
}

void pt_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  fs_of(req).inodes().forget(ino, nlookup);
  fuse_reply_none(req);
}

void pt_forget_multi(fuse_req_t req, size_t count, fuse_forget_data *forgets) {
  InodeTable &inodes = fs_of(req).inodes();
  for (size_t i = 0; i < count; ++i) inodes.forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void pt_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info *) {
  std::shared_ptr<Inode> inode = inode_of(req, ino);
  struct stat attr;
  if (inode == nullptr) {
    fuse_reply_err(req, ENOENT);
  } else if (fstatat(inode->path_fd(), "", &attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    fuse_reply_err(req, errno);
  } else {
    fuse_reply_attr(req, &attr, fs_of(req).timeouts().attr);
  }
}

void pt_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *wanted, int to_set,
                fuse_file_info *fi) {
  std::shared_ptr<Inode> inode = inode_of(req, ino);
  struct stat attr;
  int error = inode == nullptr ? ENOENT : apply_setattr(*inode, *wanted, to_set, fi);
  if (error == 0 &&
      fstatat(inode->path_fd(), "", &attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    error = errno;
  }
  if (error) {
    fuse_reply_err(req, error);
  } else {
    fuse_reply_attr(req, &attr, fs_of(req).timeouts().attr);
  }
}

void pt_readlink(fuse_req_t req, fuse_ino_t ino) {
  std::shared_ptr<Inode> inode = inode_of(req, ino);
  char target[PATH_MAX + 1];
  ssize_t length = inode ? readlinkat(inode->path_fd(), "", target, sizeof target) : -1;
  if (inode == nullptr) {
    fuse_reply_err(req, ENOENT);
  } else if (length < 0) {
    fuse_reply_err(req, errno);
  } else if (length == sizeof target) {
    fuse_reply_err(req, ENAMETOOLONG);
  } else {
    target[length] = '\0';
    fuse_reply_readlink(req, target);
  }
}

void pt_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  std::shared_ptr<Inode> dir = inode_of(req, parent);
  fuse_entry_param entry;
  int error =
      dir == nullptr
          ? ENOENT
          : make_node_as_caller(
                req, *dir, name, [&] { return mknodat(dir->path_fd(), name, mode, rdev); }, &entry);
  reply_entry_or_error(req, error, entry);
}

void pt_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  std::shared_ptr<Inode> dir = inode_of(req, parent);
  fuse_entry_param entry;
  int error = dir == nullptr ? ENOENT
                             : make_node_as_caller(
                                   req, *dir, name,
                                   [&] { return mkdirat(dir->path_fd(), name, mode); }, &entry);
  reply_entry_or_error(req, error, entry);
}

void pt_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name) {
  std::shared_ptr<Inode> dir = inode_of(req, parent);
  fuse_entry_param entry;
  int error = dir == nullptr ? ENOENT
                             : make_node_as_caller(
                                   req, *dir, name,
                                   [&] { return symlinkat(target, dir->path_fd(), name); }, &entry);
  reply_entry_or_error(req, error, entry);
}

void pt_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t new_parent, const char *new_name) {
  std::shared_ptr<Inode> inode = inode_of(req, ino);
  std::shared_ptr<Inode> dir = inode_of(req, new_parent);
  fuse_entry_param entry;
  auto make_link = [&] {
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH, which a non-root fsuid drops; following the
    // /proc magic link works for everyone.
    if (linkat(inode->path_fd(), "", dir->path_fd(), new_name, AT_EMPTY_PATH) == 0) return 0;
    if (errno != ENOENT && errno != EPERM) return -1;
    return linkat(AT_FDCWD, proc_path(inode->path_fd()).c_str(), dir->path_fd(), new_name,
                  AT_SYMLINK_FOLLOW);
  };
  int error = inode == nullptr || dir == nullptr
                  ? ENOENT
                  : make_node_as_caller(req, *dir, new_name, make_link, &entry);
  reply_entry_or_error(req, error, entry);
}

void pt_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
  std::shared_ptr<Inode> dir = inode_of(req, parent);
  if (dir == nullptr) {
    fuse_reply_err(req, ENOENT);
  } else {
    fuse_reply_err(req, unlinkat(dir->path_fd(), name, 0) == 0 ? 0 : errno);
  }
}

void pt_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) {
  std::shared_ptr<Inode> dir = inode_of(req, parent);
  if (dir == nullptr) {
    fuse_reply_err(req, ENOENT);
  } else {
    fuse_reply_err(req, unlinkat(dir->path_fd(), name, AT_REMOVEDIR) == 0 ? 0 : errno);
  }
}

void pt_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t new_parent,
               const char *new_name, unsigned int flags) {
  std::shared_ptr<Inode> old_dir = inode_of(req, parent);
  std::shared_ptr<Inode> new_dir = inode_of(req, new_parent);
  if (old_dir == nullptr || new_dir == nullptr) {
    fuse_reply_err(req, ENOENT);
  } else if (renameat2(old_dir->path_fd(), name, new_dir->path_fd(), new_name, flags) != 0) {
    fuse_reply_err(req, errno);
  } else {
    fuse_reply_err(req, 0);
  }
}

void pt_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info *fi) {
  std::shared_ptr<Inode> inode = inode_of(req, ino);
  if (inode == nullptr) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  // The O_PATH fd was opened without following symlinks; the kernel already resolved them.
  int fd = open(proc_path(inode->path_fd()).c_str(), (fi->flags & ~O_NOFOLLOW) | O_CLOEXEC);
  if (fd < 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fi->fh = static_cast<uint64_t>(fd);
  if (fuse_reply_open(req, fi) != 0) close(fd);
}

void pt_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
               fuse_file_info *fi) {
  std::shared_ptr<Inode> dir = inode_of(req, parent);
  int fd = -1;
  auto create_file = [&] {
    fd = openat(dir->path_fd(), name, ((fi->flags | O_CREAT) & ~O_NOFOLLOW) | O_CLOEXEC, mode);
    return fd < 0 ? -1 : 0;
  };
  fuse_entry_param entry;
  int error = dir == nullptr ? ENOENT : make_node_as_caller(req, *dir, name, create_file, &entry);
  if (error) {
    if (fd >= 0) close(fd);
    fuse_reply_err(req, error);
    return;
  }
  fi->fh = static_cast<uint64_t>(fd);
  if (fuse_reply_create(req, &entry, fi) != 0) {
    close(fd);
    fs_of(req).inodes().forget(entry.ino, 1);
  }
}

// Plain read/write rather than read_buf/write_buf: replies are ordinary memory buffers, which
// keeps them easy to capture for callers that bypass the kernel.
void pt_read(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info *fi) {
  std::vector<char> data;
  try {
    data.resize(size);
  } catch (const std::bad_alloc &) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  ssize_t count = pread(static_cast<int>(fi->fh), data.data(), size, offset);
  if (count < 0) {
    fuse_reply_err(req, errno);
  } else {
    fuse_reply_buf(req, data.data(), static_cast<size_t>(count));
  }
}

void pt_write(fuse_req_t req, fuse_ino_t, const char *buf, size_t size, off_t offset,
              fuse_file_info *fi) {
  ssize_t count = pwrite(static_cast<int>(fi->fh), buf, size, offset);
  if (count < 0) {
    fuse_reply_err(req, errno);
  } else {
    fuse_reply_write(req, static_cast<size_t>(count));
  }
}

// Closing a duplicate reports errors a real close would (e.g. on NFS) without ending the
// handle, which the kernel may still use after flush.
void pt_flush(fuse_req_t req, fuse_ino_t, fuse_file_info *fi) {
  int duplicate = dup(static_cast<int>(fi->fh));
  int error = duplicate < 0 ? errno : (close(duplicate) == 0 ? 0 : errno);
  fuse_reply_err(req, error);
}

void pt_release(fuse_req_t req, fuse_ino_t, fuse_file_info *fi) {
  close(static_cast<int>(fi->fh));
  fuse_reply_err(req, 0);
}

void pt_fsync(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info *fi) {
  int fd = static_cast<int>(fi->fh);
  int result = datasync ? fdatasync(fd) : fsync(fd);
  fuse_reply_err(req, result == 0 ? 0 : errno);
}

void pt_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info *fi) {
  std::shared_ptr<Inode> inode = inode_of(req, ino);
  if (inode == nullptr) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  int fd = openat(inode->path_fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *stream = fd < 0 ? nullptr : fdopendir(fd);
  if (stream == nullptr) {
    int error = errno;
    if (fd >= 0) close(fd);
    fuse_reply_err(req, error);
    return;
  }
  auto *handle = new DirHandle(stream);
  fi->fh = reinterpret_cast<uint64_t>(handle);
  if (fuse_reply_open(req, fi) != 0) delete handle;
}

void pt_readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info *fi) {
  auto *handle = reinterpret_cast<DirHandle *>(fi->fh);
  if (handle == nullptr) {
    fuse_reply_err(req, EBADF);
    return;
  }
  std::vector<char> buffer(size);
  size_t used = 0;
  int error = 0;
  {
    // Reply only after unlocking: once the reply is out, the application may close the
    // directory and releasedir (on another thread) frees the handle and its mutex.
    std::lock_guard lock(handle->mutex);
    if (offset != handle->offset) {
      seekdir(handle->stream, offset);
      handle->pending = nullptr;
      handle->offset = offset;
    }
    while (true) {
      if (handle->pending == nullptr) {
        errno = 0;
        handle->pending = readdir(handle->stream);
        if (handle->pending == nullptr) {
          error = errno;
          break;
        }
      }
      const dirent *entry = handle->pending;
      struct stat attr {};
      attr.st_ino = entry->d_ino;
      attr.st_mode = static_cast<mode_t>(DTTOIF(entry->d_type));
      size_t needed = fuse_add_direntry(req, buffer.data() + used, size - used, entry->d_name,
                                        &attr, entry->d_off);
      if (needed > size - used) break;  // keep `pending` for the next call
      used += needed;
      handle->offset = entry->d_off;
      handle->pending = nullptr;
    }
  }
  // An error after some entries is reported with the next call, which starts with it.
  if (error != 0 && used == 0) {
    fuse_reply_err(req, error);
  } else {
    fuse_reply_buf(req, buffer.data(), used);
  }
}

void pt_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info *fi) {
  delete reinterpret_cast<DirHandle *>(fi->fh);
  fuse_reply_err(req, 0);
}

void pt_fsyncdir(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info *fi) {
  auto *handle = reinterpret_cast<DirHandle *>(fi->fh);
  int fd = handle ? dirfd(handle->stream) : -1;
  int result = fd < 0 ? -1 : (datasync ? fdatasync(fd) : fsync(fd));
  fuse_reply_err(req, result == 0 ? 0 : (fd < 0 ? EBADF : errno));
}

void pt_statfs(fuse_req_t req, fuse_ino_t ino) {
  std::shared_ptr<Inode> inode = inode_of(req, ino);
  struct statvfs stats;
  if (inode == nullptr) {
    fuse_reply_err(req, ENOENT);
  } else if (fstatvfs(inode->path_fd(), &stats) != 0) {
    fuse_reply_err(req, errno);
  } else {
    fuse_reply_statfs(req, &stats);
  }
}

// Checked as the caller (fsuid/fsgid; supplementary groups are the daemon's), via AT_EACCESS,
// which makes faccessat use the fs ids instead of the real ones.
void pt_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  std::shared_ptr<Inode> inode = inode_of(req, ino);
  if (inode == nullptr) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  const fuse_ctx *ctx = fuse_req_ctx(req);
  int error;
  {
    ScopedFsCredentials as_caller(ctx->uid, ctx->gid);
    error =
        faccessat(AT_FDCWD, proc_path(inode->path_fd()).c_str(), mask, AT_EACCESS) == 0 ? 0 : errno;
  }
  fuse_reply_err(req, error);
}

void pt_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
                 int flags) {
  std::shared_ptr<Inode> inode = inode_of(req, ino);
  if (inode == nullptr) {
    fuse_reply_err(req, ENOENT);
  } else if (is_nlookup_xattr(ino, name)) {
    fuse_reply_err(req, EPERM);
  } else if (is_posix_acl_xattr(name)) {
    fuse_reply_err(req, EOPNOTSUPP);
  } else if (setxattr(proc_path(inode->path_fd()).c_str(), name, value, size, flags) != 0) {
    fuse_reply_err(req, errno);
  } else {
    fuse_reply_err(req, 0);
  }
}

void pt_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  std::shared_ptr<Inode> inode = inode_of(req, ino);
  if (inode == nullptr) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (is_nlookup_xattr(ino, name)) {
    reply_xattr_data(req, std::to_string(fs_of(req).inodes().lookups_except_root()), size);
    return;
  }
  std::string path = proc_path(inode->path_fd());
  std::vector<char> value(size);
  ssize_t length = getxattr(path.c_str(), name, size ? value.data() : nullptr, size);
  if (length < 0) {
    fuse_reply_err(req, errno);
  } else if (size == 0) {
    fuse_reply_xattr(req, static_cast<size_t>(length));
  } else {
    fuse_reply_buf(req, value.data(), static_cast<size_t>(length));
  }
}

void pt_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  std::shared_ptr<Inode> inode = inode_of(req, ino);
  if (inode == nullptr) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  std::string path = proc_path(inode->path_fd());
  std::vector<char> names(size);
  ssize_t length = listxattr(path.c_str(), size ? names.data() : nullptr, size);
  if (length < 0) {
    fuse_reply_err(req, errno);
  } else if (size == 0) {
    fuse_reply_xattr(req, static_cast<size_t>(length));
  } else {
    fuse_reply_buf(req, names.data(), static_cast<size_t>(length));
  }
}

void pt_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name) {
  std::shared_ptr<Inode> inode = inode_of(req, ino);
  if (inode == nullptr) {
    fuse_reply_err(req, ENOENT);
  } else if (is_nlookup_xattr(ino, name)) {
    fuse_reply_err(req, EPERM);
  } else if (is_posix_acl_xattr(name)) {
    fuse_reply_err(req, EOPNOTSUPP);
  } else if (removexattr(proc_path(inode->path_fd()).c_str(), name) != 0) {
    fuse_reply_err(req, errno);
  } else {
    fuse_reply_err(req, 0);
  }
}

fuse_lowlevel_ops make_operations() {
  fuse_lowlevel_ops ops{};
  ops.init = pt_init;
  ops.lookup = pt_lookup;
  ops.forget = pt_forget;
  ops.forget_multi = pt_forget_multi;
  ops.getattr = pt_getattr;
  ops.setattr = pt_setattr;
  ops.readlink = pt_readlink;
  ops.mknod = pt_mknod;
  ops.mkdir = pt_mkdir;
  ops.symlink = pt_symlink;
  ops.link = pt_link;
  ops.unlink = pt_unlink;
  ops.rmdir = pt_rmdir;
  ops.rename = pt_rename;
  ops.open = pt_open;
  ops.create = pt_create;
  ops.read = pt_read;
  ops.write = pt_write;
  ops.flush = pt_flush;
  ops.release = pt_release;
  ops.fsync = pt_fsync;
  ops.opendir = pt_opendir;
  ops.readdir = pt_readdir;
  ops.releasedir = pt_releasedir;
  ops.fsyncdir = pt_fsyncdir;
  ops.statfs = pt_statfs;
  ops.access = pt_access;
  ops.setxattr = pt_setxattr;
  ops.getxattr = pt_getxattr;
  ops.listxattr = pt_listxattr;
  ops.removexattr = pt_removexattr;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops &passthrough_operations() {
  static const fuse_lowlevel_ops ops = make_operations();
  return ops;
}

}  // namespace finesse::examples::passthrough
