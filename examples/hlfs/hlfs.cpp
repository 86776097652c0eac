#include "hlfs/hlfs.h"

#include <fcntl.h>
#include <linux/fs.h>  // RENAME_NOREPLACE, RENAME_EXCHANGE
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <string_view>

#include "common/permissions.h"
#include "common/posix_acl.h"

namespace finesse::examples::hlfs {
namespace {

constexpr off_t kMaxFileSize = off_t{1} << 32;  // contents are one contiguous string

struct Node {
  struct stat attr {};
  std::string contents;                                                // regular files
  std::string symlink_target;                                          // symlinks
  std::map<std::string, std::shared_ptr<Node>, std::less<>> children;  // directories
  std::map<std::string, std::string, std::less<>> xattrs;

  bool is_dir() const { return S_ISDIR(attr.st_mode); }
};
using NodePtr = std::shared_ptr<Node>;

timespec now() {
  timespec time;
  clock_gettime(CLOCK_REALTIME, &time);
  return time;
}

struct HlFs {
  std::mutex mutex;
  NodePtr root;
  ino_t next_ino = 2;

  NodePtr make_node(mode_t mode, const Node *parent) {
    const fuse_context *ctx = fuse_get_context();
    auto node = std::make_shared<Node>();
    timespec time = now();
    node->attr.st_ino = next_ino++;
    node->attr.st_mode = mode;
    node->attr.st_nlink = S_ISDIR(mode) ? 2 : 1;
    node->attr.st_uid = ctx->uid;
    node->attr.st_gid = ctx->gid;
    if (parent != nullptr && (parent->attr.st_mode & S_ISGID)) {
      node->attr.st_gid = parent->attr.st_gid;
      if (S_ISDIR(mode)) node->attr.st_mode |= S_ISGID;
    }
    node->attr.st_blksize = 4096;
    node->attr.st_atim = node->attr.st_mtim = node->attr.st_ctim = time;
    return node;
  }
};

HlFs &fs() {
  return *static_cast<HlFs *>(fuse_get_context()->private_data);
}

// Walks an absolute path; returns 0 or an errno.
int resolve(std::string_view path, NodePtr *out) {
  NodePtr node = fs().root;
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view name = path.substr(start, end - start);
    start = end + 1;
    if (name.empty()) continue;
    if (!node->is_dir()) return ENOTDIR;
    if (name.size() > NAME_MAX) return ENAMETOOLONG;
    auto it = node->children.find(name);
    if (it == node->children.end()) return ENOENT;
    node = it->second;
  }
  *out = node;
  return 0;
}

// The parent directory of `path` and the last component.
int resolve_parent(std::string_view path, NodePtr *parent, std::string *name) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return EINVAL;
  *name = path.substr(slash + 1);
  if (name->empty()) return EEXIST;  // the root
  if (name->size() > NAME_MAX) return ENAMETOOLONG;
  if (int error = resolve(path.substr(0, slash), parent)) return error;
  return (*parent)->is_dir() ? 0 : ENOTDIR;
}

// The node an operation is about: the open handle's if there is one (the path is null for
// unlinked open files), else the path's.
int node_of(const char *path, fuse_file_info *fi, NodePtr *out) {
  if (fi != nullptr && fi->fh != 0) {
    *out = *reinterpret_cast<NodePtr *>(fi->fh);
    return 0;
  }
  return path == nullptr ? ENOENT : resolve(path, out);
}

void entries_changed(Node &dir) {
  dir.attr.st_mtim = dir.attr.st_ctim = now();
}

void sync_size(Node &node) {
  node.attr.st_size = static_cast<off_t>(node.contents.size());
  node.attr.st_blocks = (node.attr.st_size + 511) / 512;
}

int add_node(const char *path, mode_t mode, NodePtr *created) {
  NodePtr parent;
  std::string name;
  if (int error = resolve_parent(path, &parent, &name)) return error;
  if (parent->children.count(name)) return EEXIST;
  NodePtr node = fs().make_node(mode, parent.get());
  parent->children.emplace(name, node);
  if (node->is_dir()) ++parent->attr.st_nlink;
  entries_changed(*parent);
  *created = node;
  return 0;
}

mode_t masked(mode_t mode) {
  return mode & 07777 & ~fuse_get_context()->umask;
}

// Removes parent/name; `node` is the entry's node.
void remove_entry(Node &parent, const std::string &name, Node &node) {
  parent.children.erase(name);
  if (node.is_dir()) {
    node.attr.st_nlink = 0;
    --parent.attr.st_nlink;
  } else {
    --node.attr.st_nlink;
  }
  node.attr.st_ctim = now();
  entries_changed(parent);
}

// ---- handlers: each returns 0 or -errno --------------------------------------------------------

void *hl_init(fuse_conn_info *conn, fuse_config *cfg) {
  auto *timeouts = static_cast<Timeouts *>(fuse_get_context()->private_data);
  cfg->use_ino = 1;      // st_ino as we report it
  cfg->hard_remove = 1;  // unlink really unlinks; open files keep their node via fi->fh
  cfg->nullpath_ok = 1;  // so fh-based calls on unlinked files reach us (node_of uses fi->fh)
  cfg->entry_timeout = timeouts->entry;
  cfg->attr_timeout = timeouts->attr;
  cfg->negative_timeout = timeouts->negative;
  conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;  // the kernel clears setuid/setgid bits
  auto *state = new HlFs;
  state->root = state->make_node(S_IFDIR | 0755, nullptr);
  state->root->attr.st_ino = 1;
  state->root->attr.st_uid = getuid();
  state->root->attr.st_gid = getgid();
  return state;
}

void hl_destroy(void *private_data) {
  delete static_cast<HlFs *>(private_data);
}

int hl_getattr(const char *path, struct stat *attr, fuse_file_info *fi) {
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = node_of(path, fi, &node)) return -error;
  *attr = node->attr;
  return 0;
}

int hl_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t, fuse_file_info *fi,
               fuse_readdir_flags) {
  std::lock_guard lock(fs().mutex);
  NodePtr dir;
  if (int error = node_of(path, fi, &dir)) return -error;
  if (!dir->is_dir()) return -ENOTDIR;
  fill(buf, ".", nullptr, 0, fuse_fill_dir_flags{});
  fill(buf, "..", nullptr, 0, fuse_fill_dir_flags{});
  for (const auto &[name, child] : dir->children) {
    struct stat attr {};
    attr.st_ino = child->attr.st_ino;
    attr.st_mode = child->attr.st_mode;
    if (fill(buf, name.c_str(), &attr, 0, fuse_fill_dir_flags{})) break;
  }
  dir->attr.st_atim = now();
  return 0;
}

int hl_mkdir(const char *path, mode_t mode) {
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  return -add_node(path, S_IFDIR | masked(mode), &node);
}

int hl_mknod(const char *path, mode_t mode, dev_t rdev) {
  mode_t type = (mode & S_IFMT) ? (mode & S_IFMT) : S_IFREG;
  if (type == S_IFDIR || type == S_IFLNK) return -EINVAL;
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = add_node(path, type | masked(mode), &node)) return -error;
  node->attr.st_rdev = rdev;
  return 0;
}

int hl_symlink(const char *target, const char *path) {
  if (std::strlen(target) >= PATH_MAX) return -ENAMETOOLONG;
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = add_node(path, S_IFLNK | 0777, &node)) return -error;
  node->symlink_target = target;
  node->attr.st_size = static_cast<off_t>(node->symlink_target.size());
  return 0;
}

int hl_readlink(const char *path, char *buf, size_t size) {
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = resolve(path, &node)) return -error;
  if (!S_ISLNK(node->attr.st_mode)) return -EINVAL;
  if (size == 0) return -EINVAL;
  size_t length = std::min(size - 1, node->symlink_target.size());
  std::memcpy(buf, node->symlink_target.data(), length);
  buf[length] = '\0';
  return 0;
}

int hl_link(const char *from, const char *to) {
  std::lock_guard lock(fs().mutex);
  NodePtr node, parent;
  std::string name;
  if (int error = resolve(from, &node)) return -error;
  if (node->is_dir()) return -EPERM;
  if (int error = resolve_parent(to, &parent, &name)) return -error;
  if (parent->children.count(name)) return -EEXIST;
  parent->children.emplace(name, node);
  ++node->attr.st_nlink;
  node->attr.st_ctim = now();
  entries_changed(*parent);
  return 0;
}

int hl_unlink(const char *path) {
  std::lock_guard lock(fs().mutex);
  NodePtr parent, node;
  std::string name;
  if (int error = resolve_parent(path, &parent, &name)) return -error;
  if (int error = resolve(path, &node)) return -error;
  if (node->is_dir()) return -EISDIR;
  remove_entry(*parent, name, *node);
  return 0;
}

int hl_rmdir(const char *path) {
  std::lock_guard lock(fs().mutex);
  NodePtr parent, node;
  std::string name;
  if (int error = resolve_parent(path, &parent, &name)) return error == EEXIST ? -EBUSY : -error;
  if (int error = resolve(path, &node)) return -error;
  if (!node->is_dir()) return -ENOTDIR;
  if (!node->children.empty()) return -ENOTEMPTY;
  remove_entry(*parent, name, *node);
  return 0;
}

int hl_rename(const char *from, const char *to, unsigned int flags) {
  if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) ||
      ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))) {
    return -EINVAL;
  }
  std::lock_guard lock(fs().mutex);
  NodePtr old_dir, new_dir, source, target;
  std::string old_name, new_name;
  if (int error = resolve_parent(from, &old_dir, &old_name)) return -error;
  if (int error = resolve_parent(to, &new_dir, &new_name)) return -error;
  if (int error = resolve(from, &source)) return -error;
  if (resolve(to, &target) != 0) target = nullptr;
  std::string_view from_path(from), to_path(to);
  auto inside = [](std::string_view path, std::string_view dir) {
    return path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/';
  };
  if (flags & RENAME_EXCHANGE) {
    if (target == nullptr) return -ENOENT;
    if (source == target) return 0;
    if (inside(to_path, from_path) || inside(from_path, to_path)) return -EINVAL;
    old_dir->children[old_name] = target;
    new_dir->children[new_name] = source;
    if (old_dir != new_dir && source->is_dir() != target->is_dir()) {
      int delta = source->is_dir() ? 1 : -1;  // one subdirectory moves from old_dir to new_dir
      old_dir->attr.st_nlink -= delta;
      new_dir->attr.st_nlink += delta;
    }
    source->attr.st_ctim = target->attr.st_ctim = now();
    entries_changed(*old_dir);
    entries_changed(*new_dir);
    return 0;
  }
  if (target != nullptr && (flags & RENAME_NOREPLACE)) return -EEXIST;
  if (source == target) return 0;
  if (source->is_dir() && inside(to_path, from_path)) return -EINVAL;
  if (target != nullptr) {
    if (source->is_dir() && !target->is_dir()) return -ENOTDIR;
    if (!source->is_dir() && target->is_dir()) return -EISDIR;
    if (target->is_dir() && !target->children.empty()) return -ENOTEMPTY;
    remove_entry(*new_dir, new_name, *target);
  }
  old_dir->children.erase(old_name);
  new_dir->children[new_name] = source;
  if (source->is_dir() && old_dir != new_dir) {
    --old_dir->attr.st_nlink;
    ++new_dir->attr.st_nlink;
  }
  source->attr.st_ctim = now();
  entries_changed(*old_dir);
  entries_changed(*new_dir);
  return 0;
}

int hl_truncate_node(Node &node, off_t size) {
  if (node.is_dir()) return EISDIR;
  if (!S_ISREG(node.attr.st_mode)) return EINVAL;
  if (size < 0) return EINVAL;
  if (size > kMaxFileSize) return EFBIG;
  try {
    node.contents.resize(static_cast<size_t>(size));
  } catch (const std::bad_alloc &) {
    return ENOSPC;
  }
  sync_size(node);
  node.attr.st_mtim = node.attr.st_ctim = now();
  return 0;
}

int hl_open(const char *path, fuse_file_info *fi) {
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = resolve(path, &node)) return -error;
  if ((fi->flags & O_TRUNC) && S_ISREG(node->attr.st_mode)) hl_truncate_node(*node, 0);
  fi->fh = reinterpret_cast<uint64_t>(new NodePtr(node));
  return 0;
}

int hl_create(const char *path, mode_t mode, fuse_file_info *fi) {
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = add_node(path, S_IFREG | masked(mode), &node)) return -error;
  fi->fh = reinterpret_cast<uint64_t>(new NodePtr(node));
  return 0;
}

int hl_release(const char *, fuse_file_info *fi) {
  delete reinterpret_cast<NodePtr *>(fi->fh);
  return 0;
}

// Directory handles carry the node too: with nullpath_ok, readdir may come without a path.
int hl_opendir(const char *path, fuse_file_info *fi) {
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = resolve(path, &node)) return -error;
  if (!S_ISDIR(node->attr.st_mode)) return -ENOTDIR;
  fi->fh = reinterpret_cast<uint64_t>(new NodePtr(node));
  return 0;
}

int hl_releasedir(const char *, fuse_file_info *fi) {
  delete reinterpret_cast<NodePtr *>(fi->fh);
  return 0;
}

int hl_read(const char *path, char *buf, size_t size, off_t offset, fuse_file_info *fi) {
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = node_of(path, fi, &node)) return -error;
  if (node->is_dir()) return -EISDIR;
  if (offset < 0) return -EINVAL;
  size_t length = node->contents.size();
  if (static_cast<size_t>(offset) >= length) return 0;
  size_t count = std::min(size, length - static_cast<size_t>(offset));
  std::memcpy(buf, node->contents.data() + offset, count);
  node->attr.st_atim = now();
  return static_cast<int>(count);
}

int hl_write(const char *path, const char *buf, size_t size, off_t offset, fuse_file_info *fi) {
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = node_of(path, fi, &node)) return -error;
  if (node->is_dir()) return -EISDIR;
  if (offset < 0) return -EINVAL;
  if (fi != nullptr && (fi->flags & O_APPEND)) offset = static_cast<off_t>(node->contents.size());
  if (offset > kMaxFileSize || static_cast<off_t>(size) > kMaxFileSize - offset) return -EFBIG;
  size_t end = static_cast<size_t>(offset) + size;
  try {
    if (node->contents.size() < end) node->contents.resize(end);
  } catch (const std::bad_alloc &) {
    return -ENOSPC;
  }
  std::memcpy(node->contents.data() + offset, buf, size);
  sync_size(*node);
  node->attr.st_mtim = node->attr.st_ctim = now();
  return static_cast<int>(size);
}

int hl_truncate(const char *path, off_t size, fuse_file_info *fi) {
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = node_of(path, fi, &node)) return -error;
  return -hl_truncate_node(*node, size);
}

int hl_fsync(const char *, int, fuse_file_info *) {
  return 0;
}

int hl_chmod(const char *path, mode_t mode, fuse_file_info *fi) {
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = node_of(path, fi, &node)) return -error;
  node->attr.st_mode = (node->attr.st_mode & S_IFMT) | (mode & 07777);
  node->attr.st_ctim = now();
  return 0;
}

int hl_chown(const char *path, uid_t uid, gid_t gid, fuse_file_info *fi) {
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = node_of(path, fi, &node)) return -error;
  if (uid != static_cast<uid_t>(-1)) node->attr.st_uid = uid;
  if (gid != static_cast<gid_t>(-1)) node->attr.st_gid = gid;
  node->attr.st_ctim = now();
  return 0;
}

int hl_utimens(const char *path, const timespec times[2], fuse_file_info *fi) {
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = node_of(path, fi, &node)) return -error;
  timespec time = now();
  timespec *fields[2] = {&node->attr.st_atim, &node->attr.st_mtim};
  for (int i = 0; i < 2; ++i) {
    if (times == nullptr || times[i].tv_nsec == UTIME_NOW) {
      *fields[i] = time;
    } else if (times[i].tv_nsec != UTIME_OMIT) {
      *fields[i] = times[i];
    }
  }
  node->attr.st_ctim = time;
  return 0;
}

int hl_statfs(const char *, struct statvfs *stats) {
  *stats = {};
  stats->f_bsize = stats->f_frsize = 4096;
  stats->f_blocks = stats->f_bfree = stats->f_bavail = uint64_t{1} << 20;  // 4 GiB, nominal
  stats->f_files = stats->f_ffree = stats->f_favail = uint64_t{1} << 20;
  stats->f_namemax = NAME_MAX;
  return 0;
}

int hl_access(const char *path, int mask) {
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = resolve(path, &node)) return -error;
  const fuse_context *ctx = fuse_get_context();
  Caller caller{ctx->uid, ctx->gid, ctx->umask};
  auto groups = [] {
    std::vector<gid_t> list(64);
    int count = fuse_getgroups(static_cast<int>(list.size()), list.data());
    list.resize(count > 0 ? std::min<size_t>(count, list.size()) : 0);
    return list;
  };
  return may_access(node->attr, caller, mask, groups) ? 0 : -EACCES;
}

int hl_setxattr(const char *path, const char *name, const char *value, size_t size, int flags) {
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return -EINVAL;
  if (is_posix_acl_xattr(name)) return -EOPNOTSUPP;
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = resolve(path, &node)) return -error;
  auto it = node->xattrs.find(name);
  if (it != node->xattrs.end() && (flags & XATTR_CREATE)) return -EEXIST;
  if (it == node->xattrs.end() && (flags & XATTR_REPLACE)) return -ENODATA;
  node->xattrs[name] = std::string(value, size);
  node->attr.st_ctim = now();
  return 0;
}

// getxattr/listxattr protocol: size 0 asks for the length, a short buffer is ERANGE.
int copy_xattr_data(const std::string &data, char *buf, size_t size) {
  if (size == 0) return static_cast<int>(data.size());
  if (size < data.size()) return -ERANGE;
  std::memcpy(buf, data.data(), data.size());
  return static_cast<int>(data.size());
}

int hl_getxattr(const char *path, const char *name, char *value, size_t size) {
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = resolve(path, &node)) return -error;
  auto it = node->xattrs.find(name);
  if (it == node->xattrs.end()) return -ENODATA;
  return copy_xattr_data(it->second, value, size);
}

int hl_listxattr(const char *path, char *list, size_t size) {
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = resolve(path, &node)) return -error;
  std::string names;
  for (const auto &[name, value] : node->xattrs) names.append(name).push_back('\0');
  return copy_xattr_data(names, list, size);
}

int hl_removexattr(const char *path, const char *name) {
  if (is_posix_acl_xattr(name)) return -EOPNOTSUPP;
  std::lock_guard lock(fs().mutex);
  NodePtr node;
  if (int error = resolve(path, &node)) return -error;
  auto it = node->xattrs.find(name);
  if (it == node->xattrs.end()) return -ENODATA;
  node->xattrs.erase(it);
  node->attr.st_ctim = now();
  return 0;
}

fuse_operations make_operations() {
  fuse_operations ops{};
  ops.init = hl_init;
  ops.destroy = hl_destroy;
  ops.getattr = hl_getattr;
  ops.readdir = hl_readdir;
  ops.opendir = hl_opendir;
  ops.releasedir = hl_releasedir;
  ops.mkdir = hl_mkdir;
  ops.mknod = hl_mknod;
  ops.symlink = hl_symlink;
  ops.readlink = hl_readlink;
  ops.link = hl_link;
  ops.unlink = hl_unlink;
  ops.rmdir = hl_rmdir;
  ops.rename = hl_rename;
  ops.open = hl_open;
  ops.create = hl_create;
  ops.release = hl_release;
  ops.read = hl_read;
  ops.write = hl_write;
  ops.truncate = hl_truncate;
  ops.fsync = hl_fsync;
  ops.chmod = hl_chmod;
  ops.chown = hl_chown;
  ops.utimens = hl_utimens;
  ops.statfs = hl_statfs;
  ops.access = hl_access;
  ops.setxattr = hl_setxattr;
  ops.getxattr = hl_getxattr;
  ops.listxattr = hl_listxattr;
  ops.removexattr = hl_removexattr;
  return ops;
}

}  // namespace

const fuse_operations &hlfs_operations() {
  static const fuse_operations ops = make_operations();
  return ops;
}

}  // namespace finesse::examples::hlfs
