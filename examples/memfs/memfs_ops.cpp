// One handler per operation, each ending in exactly one fuse_reply_*. Handlers use only the
// public request API (fuse_req_userdata, fuse_req_ctx, fuse_req_getgroups, fuse_reply_*), so
// they also serve synthetic requests made outside libfuse's worker threads.
#include "memfs/memfs_ops.h"

#include <fcntl.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "memfs/memfs.h"

namespace finesse::examples::memfs {
namespace {

MemFs &fs_of(fuse_req_t req) {
  return *static_cast<MemFs *>(fuse_req_userdata(req));
}

Caller caller_of(fuse_req_t req) {
  Caller caller;
  if (const fuse_ctx *ctx = fuse_req_ctx(req)) {
    caller.uid = ctx->uid;
    caller.gid = ctx->gid;
    caller.umask = ctx->umask;
  }
  return caller;
}

std::vector<gid_t> supplementary_groups_of(fuse_req_t req) {
  std::vector<gid_t> groups(64);
  int count = fuse_req_getgroups(req, static_cast<int>(groups.size()), groups.data());
  if (count > static_cast<int>(groups.size())) {
    groups.resize(count);
    count = fuse_req_getgroups(req, count, groups.data());
  }
  groups.resize(count > 0 ? std::min<size_t>(count, groups.size()) : 0);
  return groups;
}

// Replies with a new entry; if the kernel did not take it, its lookup is not counted.
void reply_entry(fuse_req_t req, const fuse_entry_param &entry) {
  if (fuse_reply_entry(req, &entry) != 0) fs_of(req).forget(entry.ino, 1);
}

void reply_entry_or_error(fuse_req_t req, int error, const fuse_entry_param &entry) {
  if (error) {
    fuse_reply_err(req, error);
  } else {
    reply_entry(req, entry);
  }
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

// A directory handle: a snapshot of the entries, taken at offset 0 (opendir or rewinddir),
// so that offsets stay meaningful while the directory changes.
struct DirHandle {
  std::mutex mutex;  // readdir on one handle may come from several threads
  std::vector<DirEntry> entries;
};

void memfs_init(void *, fuse_conn_info *conn) {
  // The kernel clears setuid/setgid bits on write and chown itself; memfs does not.
  conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
}

void memfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  MemFs &fs = fs_of(req);
  fuse_entry_param entry;
  int error = fs.lookup(parent, name, &entry);
  if (error == ENOENT && fs.timeouts().negative > 0) {
    // ino 0 caches the negative answer in the kernel for entry_timeout seconds.
    entry = fuse_entry_param{};
    entry.entry_timeout = fs.timeouts().negative;
    fuse_reply_entry(req, &entry);
    return;
  }
  reply_entry_or_error(req, error, entry);
}

void memfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  fs_of(req).forget(ino, nlookup);
  fuse_reply_none(req);
}

void memfs_forget_multi(fuse_req_t req, size_t count, fuse_forget_data *forgets) {
  MemFs &fs = fs_of(req);
  for (size_t i = 0; i < count; ++i) fs.forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void memfs_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info *) {
  MemFs &fs = fs_of(req);
  struct stat attr;
  if (int error = fs.getattr(ino, &attr)) {
    fuse_reply_err(req, error);
  } else {
    fuse_reply_attr(req, &attr, fs.timeouts().attr);
  }
}

void memfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *wanted, int to_set,
                   fuse_file_info *) {
  MemFs &fs = fs_of(req);
  struct stat attr;
  if (int error = fs.setattr(ino, *wanted, to_set, &attr)) {
    fuse_reply_err(req, error);
  } else {
    fuse_reply_attr(req, &attr, fs.timeouts().attr);
  }
}

void memfs_readlink(fuse_req_t req, fuse_ino_t ino) {
  std::string target;
  if (int error = fs_of(req).readlink(ino, &target)) {
    fuse_reply_err(req, error);
  } else {
    fuse_reply_readlink(req, target.c_str());
  }
}

void memfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  fuse_entry_param entry;
  int error = fs_of(req).mknod(caller_of(req), parent, name, mode, rdev, &entry);
  reply_entry_or_error(req, error, entry);
}

void memfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  fuse_entry_param entry;
  int error = fs_of(req).mkdir(caller_of(req), parent, name, mode, &entry);
  reply_entry_or_error(req, error, entry);
}

void memfs_symlink(fuse_req_t req, const char *target, fuse_ino_t parent, const char *name) {
  fuse_entry_param entry;
  int error = fs_of(req).symlink(caller_of(req), target, parent, name, &entry);
  reply_entry_or_error(req, error, entry);
}

void memfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t new_parent, const char *new_name) {
  fuse_entry_param entry;
  int error = fs_of(req).link(ino, new_parent, new_name, &entry);
  reply_entry_or_error(req, error, entry);
}

void memfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
  fuse_reply_err(req, fs_of(req).unlink(parent, name));
}

void memfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) {
  fuse_reply_err(req, fs_of(req).rmdir(parent, name));
}

void memfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t new_parent,
                  const char *new_name, unsigned int flags) {
  fuse_reply_err(req, fs_of(req).rename(parent, name, new_parent, new_name, flags));
}

void memfs_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info *fi) {
  MemFs &fs = fs_of(req);
  if (int error = fs.open(ino, fi->flags)) {
    fuse_reply_err(req, error);
    return;
  }
  fi->fh = 0;  // all state lives in the inode
  if (fuse_reply_open(req, fi) != 0) fs.release(ino);
}

void memfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                  fuse_file_info *fi) {
  MemFs &fs = fs_of(req);
  fuse_entry_param entry;
  if (int error = fs.create(caller_of(req), parent, name, mode, fi->flags, &entry)) {
    fuse_reply_err(req, error);
    return;
  }
  fi->fh = 0;
  if (fuse_reply_create(req, &entry, fi) != 0) {
    fs.release(entry.ino);
    fs.forget(entry.ino, 1);
  }
}

void memfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info *) {
  if (offset < 0) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  std::vector<char> data;
  if (int error = fs_of(req).read(ino, static_cast<uint64_t>(offset), size, &data)) {
    fuse_reply_err(req, error);
  } else {
    fuse_reply_buf(req, data.data(), data.size());
  }
}

void memfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t offset,
                 fuse_file_info *fi) {
  if (offset < 0) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  size_t written = 0;
  bool append = fi != nullptr && (fi->flags & O_APPEND);
  if (int error =
          fs_of(req).write(ino, static_cast<uint64_t>(offset), buf, size, append, &written)) {
    fuse_reply_err(req, error);
  } else {
    fuse_reply_write(req, written);
  }
}

void memfs_flush(fuse_req_t req, fuse_ino_t, fuse_file_info *) {
  fuse_reply_err(req, 0);
}

void memfs_release(fuse_req_t req, fuse_ino_t ino, fuse_file_info *) {
  fs_of(req).release(ino);
  fuse_reply_err(req, 0);
}

void memfs_fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info *) {
  fuse_reply_err(req, 0);
}

void memfs_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info *fi) {
  MemFs &fs = fs_of(req);
  auto handle = std::make_unique<DirHandle>();
  int error = fs.opendir(ino);
  if (error == 0) {
    error = fs.list_directory(ino, &handle->entries);
    if (error) fs.release(ino);
  }
  if (error) {
    fuse_reply_err(req, error);
    return;
  }
  fi->fh = reinterpret_cast<uint64_t>(handle.release());
  if (fuse_reply_open(req, fi) != 0) {
    delete reinterpret_cast<DirHandle *>(fi->fh);
    fs.release(ino);
  }
}

void memfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info *fi) {
  MemFs &fs = fs_of(req);
  // Without an opendir handle (a caller that skipped opendir) use a one-off snapshot.
  std::unique_ptr<DirHandle> one_off;
  DirHandle *handle = fi != nullptr ? reinterpret_cast<DirHandle *>(fi->fh) : nullptr;
  if (handle == nullptr) {
    one_off = std::make_unique<DirHandle>();
    handle = one_off.get();
  }
  std::vector<char> buffer(size);
  size_t used = 0;
  int error = 0;
  {
    // Reply only after unlocking: once the reply is out, the application may close the
    // directory and releasedir (on another thread) frees the handle and its mutex.
    std::lock_guard lock(handle->mutex);
    if (offset == 0 || one_off) error = fs.list_directory(ino, &handle->entries);
    // An entry's offset is its index + 1: the position of the entry after it.
    for (size_t index = offset < 0 ? handle->entries.size() : static_cast<size_t>(offset);
         error == 0 && index < handle->entries.size(); ++index) {
      const DirEntry &entry = handle->entries[index];
      struct stat attr {};
      attr.st_ino = entry.ino;
      attr.st_mode = entry.type;
      size_t needed = fuse_add_direntry(req, buffer.data() + used, size - used, entry.name.c_str(),
                                        &attr, static_cast<off_t>(index + 1));
      if (needed > size - used) break;
      used += needed;
    }
  }
  if (error)
    fuse_reply_err(req, error);
  else
    fuse_reply_buf(req, buffer.data(), used);
}

void memfs_releasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info *fi) {
  delete reinterpret_cast<DirHandle *>(fi->fh);
  fs_of(req).release(ino);
  fuse_reply_err(req, 0);
}

void memfs_fsyncdir(fuse_req_t req, fuse_ino_t, int, fuse_file_info *) {
  fuse_reply_err(req, 0);
}

void memfs_statfs(fuse_req_t req, fuse_ino_t) {
  struct statvfs stats;
  fs_of(req).statfs(&stats);
  fuse_reply_statfs(req, &stats);
}

// access() is a real check against mode, owner and groups, so that callers that bypass the
// kernel get sensible answers; the other operations do not check permissions (mount with
// -o default_permissions to have the kernel enforce them).
void memfs_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  struct stat attr;
  if (int error = fs_of(req).getattr(ino, &attr)) {
    fuse_reply_err(req, error);
    return;
  }
  bool allowed =
      may_access(attr, caller_of(req), mask, [req] { return supplementary_groups_of(req); });
  fuse_reply_err(req, allowed ? 0 : EACCES);
}

void memfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                    size_t size, int flags) {
  fuse_reply_err(req, fs_of(req).setxattr(ino, name, std::string_view(value, size), flags));
}

void memfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  std::string value;
  if (int error = fs_of(req).getxattr(ino, name, &value)) {
    fuse_reply_err(req, error);
  } else {
    reply_xattr_data(req, value, size);
  }
}

void memfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  std::string names;
  if (int error = fs_of(req).listxattr(ino, &names)) {
    fuse_reply_err(req, error);
  } else {
    reply_xattr_data(req, names, size);
  }
}

void memfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name) {
  fuse_reply_err(req, fs_of(req).removexattr(ino, name));
}

fuse_lowlevel_ops make_operations() {
  fuse_lowlevel_ops ops{};
  ops.init = memfs_init;
  ops.lookup = memfs_lookup;
  ops.forget = memfs_forget;
  ops.forget_multi = memfs_forget_multi;
  ops.getattr = memfs_getattr;
  ops.setattr = memfs_setattr;
  ops.readlink = memfs_readlink;
  ops.mknod = memfs_mknod;
  ops.mkdir = memfs_mkdir;
  ops.symlink = memfs_symlink;
  ops.link = memfs_link;
  ops.unlink = memfs_unlink;
  ops.rmdir = memfs_rmdir;
  ops.rename = memfs_rename;
  ops.open = memfs_open;
  ops.create = memfs_create;
  ops.read = memfs_read;
  ops.write = memfs_write;
  ops.flush = memfs_flush;
  ops.release = memfs_release;
  ops.fsync = memfs_fsync;
  ops.opendir = memfs_opendir;
  ops.readdir = memfs_readdir;
  ops.releasedir = memfs_releasedir;
  ops.fsyncdir = memfs_fsyncdir;
  ops.statfs = memfs_statfs;
  ops.access = memfs_access;
  ops.setxattr = memfs_setxattr;
  ops.getxattr = memfs_getxattr;
  ops.listxattr = memfs_listxattr;
  ops.removexattr = memfs_removexattr;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops &memfs_operations() {
  static const fuse_lowlevel_ops ops = make_operations();
  return ops;
}

}  // namespace finesse::examples::memfs
