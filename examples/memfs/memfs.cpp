#include "memfs/memfs.h"

#include <fcntl.h>
#include <linux/fs.h>  // RENAME_NOREPLACE, RENAME_EXCHANGE
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <ctime>
#include <new>

#include "common/debug_xattr.h"
#include "common/posix_acl.h"

namespace finesse::examples::memfs {
namespace {

constexpr uint64_t kMaxInodes = uint64_t{1} << 22;
constexpr uint64_t kMaxFileSize = INT64_MAX;
constexpr size_t kMaxXattrNameLength = 255;
constexpr size_t kMaxXattrValueSize = 64 * 1024;
constexpr blkcnt_t kSectorsPerBlock = FileData::kBlockSize / 512;

timespec now() {
  timespec time;
  clock_gettime(CLOCK_REALTIME, &time);
  return time;
}

// A directory's entries changed: POSIX updates its mtime and ctime.
void touch_entries_changed(Inode &dir, timespec time) {
  dir.attr.st_mtim = time;
  dir.attr.st_ctim = time;
}

bool is_dot_or_dotdot(std::string_view name) {
  return name == "." || name == "..";
}

// Names for new entries: the kernel lets names of up to 1024 bytes through to FUSE.
int check_new_name(std::string_view name) {
  if (name.empty() || name.find('/') != std::string_view::npos) return EINVAL;
  if (name.size() > NAME_MAX) return ENAMETOOLONG;
  return 0;
}

void sync_size(Inode &inode) {
  inode.attr.st_size = static_cast<off_t>(inode.contents.size());
  inode.attr.st_blocks =
      static_cast<blkcnt_t>(inode.contents.allocated_blocks()) * kSectorsPerBlock;
}

uint64_t physical_memory_bytes() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return uint64_t{1} << 30;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
}

}  // namespace

MemFs::MemFs(Timeouts timeouts, uint64_t capacity_bytes)
    : timeouts_(timeouts),
      capacity_blocks_((capacity_bytes ? capacity_bytes : physical_memory_bytes()) /
                       FileData::kBlockSize) {
  auto root = std::make_unique<Inode>();
  timespec time = now();
  root->attr.st_ino = FUSE_ROOT_ID;
  root->attr.st_mode = S_IFDIR | 0755;
  root->attr.st_nlink = 2;
  root->attr.st_uid = getuid();
  root->attr.st_gid = getgid();
  root->attr.st_blksize = FileData::kBlockSize;
  root->attr.st_atim = root->attr.st_mtim = root->attr.st_ctim = time;
  root->parent = FUSE_ROOT_ID;
  inodes_.emplace(FUSE_ROOT_ID, std::move(root));
}

// ---- private helpers (mutex_ held) -------------------------------------------------------------

Inode *MemFs::find(fuse_ino_t ino) {
  auto it = inodes_.find(ino);
  return it == inodes_.end() ? nullptr : it->second.get();
}

int MemFs::find_directory(fuse_ino_t ino, Inode **dir) {
  *dir = find(ino);
  if (*dir == nullptr) return ENOENT;
  if (!(*dir)->is_dir()) return ENOTDIR;
  return 0;
}

Inode *MemFs::child(const Inode &dir, std::string_view name) {
  auto it = dir.entries.find(name);
  return it == dir.entries.end() ? nullptr : find(it->second);
}

Inode &MemFs::new_inode(const Caller &caller, Inode &parent, mode_t mode) {
  auto inode = std::make_unique<Inode>();
  timespec time = now();
  bool inherit_group = parent.attr.st_mode & S_ISGID;  // BSD group semantics of setgid dirs
  inode->attr.st_ino = next_ino_++;
  inode->attr.st_mode = mode;
  if (inherit_group && S_ISDIR(mode)) inode->attr.st_mode |= S_ISGID;
  inode->attr.st_nlink = S_ISDIR(mode) ? 2 : 1;
  inode->attr.st_uid = caller.uid;
  inode->attr.st_gid = inherit_group ? parent.attr.st_gid : caller.gid;
  inode->attr.st_blksize = FileData::kBlockSize;
  inode->attr.st_atim = inode->attr.st_mtim = inode->attr.st_ctim = time;
  Inode &created = *inode;
  inodes_.emplace(created.number(), std::move(inode));
  return created;
}

int MemFs::add_new_entry(const Caller &caller, fuse_ino_t parent, std::string_view name,
                         mode_t mode, Inode **created) {
  if (int error = check_new_name(name)) return error;
  Inode *dir;
  if (int error = find_directory(parent, &dir)) return error;
  if (dir->attr.st_nlink == 0) return ENOENT;  // removed while still open
  if (is_dot_or_dotdot(name) || dir->entries.count(name)) return EEXIST;
  if (inodes_.size() >= kMaxInodes) return ENOSPC;
  Inode &inode = new_inode(caller, *dir, mode);
  dir->entries.emplace(std::string(name), inode.number());
  if (inode.is_dir()) {
    inode.parent = dir->number();
    ++dir->attr.st_nlink;
  }
  touch_entries_changed(*dir, inode.attr.st_ctim);
  *created = &inode;
  return 0;
}

void MemFs::count_lookup(Inode &inode, fuse_entry_param *entry) {
  ++inode.nlookup;
  if (inode.number() != FUSE_ROOT_ID) ++lookups_except_root_;
  *entry = fuse_entry_param{};
  entry->ino = inode.number();
  entry->attr = inode.attr;
  entry->attr_timeout = timeouts_.attr;
  entry->entry_timeout = timeouts_.entry;
}

// Removes `name` -> `target` from `dir`; `target` may be freed, so callers must not use it after.
void MemFs::remove_entry(Inode &dir, std::string_view name, Inode &target) {
  timespec time = now();
  dir.entries.erase(dir.entries.find(name));
  touch_entries_changed(dir, time);
  if (target.is_dir()) {
    target.attr.st_nlink = 0;
    --dir.attr.st_nlink;  // the removed directory's ".."
  } else {
    --target.attr.st_nlink;
  }
  target.attr.st_ctim = time;
  free_if_unused(target);
}

void MemFs::free_if_unused(Inode &inode) {
  if (inode.number() == FUSE_ROOT_ID || inode.attr.st_nlink > 0 || inode.nlookup > 0 ||
      inode.open_handles > 0) {
    return;
  }
  used_blocks_ -= inode.contents.allocated_blocks();
  inodes_.erase(inode.number());
}

// Whether `ino` is `ancestor` or lies below it (walking ".." up to the root).
bool MemFs::is_in_subtree(fuse_ino_t ancestor, fuse_ino_t ino) {
  while (true) {
    if (ino == ancestor) return true;
    if (ino == FUSE_ROOT_ID) return false;
    Inode *inode = find(ino);
    if (inode == nullptr) return false;
    ino = inode->parent;
  }
}

// ---- names and links ---------------------------------------------------------------------------

int MemFs::lookup(fuse_ino_t parent, std::string_view name, fuse_entry_param *entry) {
  if (name.size() > NAME_MAX) return ENAMETOOLONG;
  std::lock_guard lock(mutex_);
  Inode *dir;
  if (int error = find_directory(parent, &dir)) return error;
  Inode *found;
  if (name == ".") {
    found = dir;
  } else if (name == "..") {
    found = find(dir->parent);
  } else {
    found = child(*dir, name);
  }
  if (found == nullptr) return ENOENT;
  count_lookup(*found, entry);
  return 0;
}

void MemFs::forget(fuse_ino_t ino, uint64_t count) {
  std::lock_guard lock(mutex_);
  Inode *inode = find(ino);
  if (inode == nullptr) return;
  count = std::min(count, inode->nlookup);
  inode->nlookup -= count;
  if (ino != FUSE_ROOT_ID) lookups_except_root_ -= count;
  free_if_unused(*inode);
}

int MemFs::mknod(const Caller &caller, fuse_ino_t parent, std::string_view name, mode_t mode,
                 dev_t rdev, fuse_entry_param *entry) {
  mode_t type = (mode & S_IFMT) ? (mode & S_IFMT) : S_IFREG;
  if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK && type != S_IFCHR &&
      type != S_IFBLK) {
    return EINVAL;
  }
  std::lock_guard lock(mutex_);
  Inode *inode;
  if (int error =
          add_new_entry(caller, parent, name, type | (mode & 07777 & ~caller.umask), &inode)) {
    return error;
  }
  if (type == S_IFCHR || type == S_IFBLK) inode->attr.st_rdev = rdev;
  count_lookup(*inode, entry);
  return 0;
}

int MemFs::mkdir(const Caller &caller, fuse_ino_t parent, std::string_view name, mode_t mode,
                 fuse_entry_param *entry) {
  std::lock_guard lock(mutex_);
  Inode *inode;
  if (int error =
          add_new_entry(caller, parent, name, S_IFDIR | (mode & 07777 & ~caller.umask), &inode)) {
    return error;
  }
  count_lookup(*inode, entry);
  return 0;
}

int MemFs::symlink(const Caller &caller, std::string_view target, fuse_ino_t parent,
                   std::string_view name, fuse_entry_param *entry) {
  if (target.empty()) return ENOENT;
  if (target.size() >= PATH_MAX) return ENAMETOOLONG;
  std::lock_guard lock(mutex_);
  Inode *inode;
  if (int error = add_new_entry(caller, parent, name, S_IFLNK | 0777, &inode)) return error;
  inode->symlink_target = target;
  inode->attr.st_size = static_cast<off_t>(target.size());
  count_lookup(*inode, entry);
  return 0;
}

int MemFs::link(fuse_ino_t ino, fuse_ino_t new_parent, std::string_view new_name,
                fuse_entry_param *entry) {
  if (int error = check_new_name(new_name)) return error;
  std::lock_guard lock(mutex_);
  Inode *inode = find(ino);
  if (inode == nullptr) return ENOENT;
  if (inode->is_dir()) return EPERM;
  if (inode->attr.st_nlink == 0) return ENOENT;
  Inode *dir;
  if (int error = find_directory(new_parent, &dir)) return error;
  if (dir->attr.st_nlink == 0) return ENOENT;
  if (is_dot_or_dotdot(new_name) || dir->entries.count(new_name)) return EEXIST;
  dir->entries.emplace(std::string(new_name), ino);
  timespec time = now();
  ++inode->attr.st_nlink;
  inode->attr.st_ctim = time;
  touch_entries_changed(*dir, time);
  count_lookup(*inode, entry);
  return 0;
}

int MemFs::unlink(fuse_ino_t parent, std::string_view name) {
  if (name.size() > NAME_MAX) return ENAMETOOLONG;
  std::lock_guard lock(mutex_);
  Inode *dir;
  if (int error = find_directory(parent, &dir)) return error;
  if (is_dot_or_dotdot(name)) return EISDIR;
  Inode *target = child(*dir, name);
  if (target == nullptr) return ENOENT;
  if (target->is_dir()) return EISDIR;
  remove_entry(*dir, name, *target);
  return 0;
}

int MemFs::rmdir(fuse_ino_t parent, std::string_view name) {
  if (name.size() > NAME_MAX) return ENAMETOOLONG;
  if (name == ".") return EINVAL;
  if (name == "..") return ENOTEMPTY;
  std::lock_guard lock(mutex_);
  Inode *dir;
  if (int error = find_directory(parent, &dir)) return error;
  Inode *target = child(*dir, name);
  if (target == nullptr) return ENOENT;
  if (!target->is_dir()) return ENOTDIR;
  if (!target->entries.empty()) return ENOTEMPTY;
  remove_entry(*dir, name, *target);
  return 0;
}

int MemFs::rename(fuse_ino_t parent, std::string_view name, fuse_ino_t new_parent,
                  std::string_view new_name, unsigned int flags) {
  if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) ||
      ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))) {
    return EINVAL;
  }
  if (name.size() > NAME_MAX || new_name.size() > NAME_MAX) return ENAMETOOLONG;
  if (int error = check_new_name(new_name)) return error;
  if (is_dot_or_dotdot(name) || is_dot_or_dotdot(new_name)) return EINVAL;
  std::lock_guard lock(mutex_);
  Inode *old_dir, *new_dir;
  if (int error = find_directory(parent, &old_dir)) return error;
  if (int error = find_directory(new_parent, &new_dir)) return error;
  Inode *source = child(*old_dir, name);
  if (source == nullptr) return ENOENT;
  if (flags & RENAME_EXCHANGE) return rename_exchange(*old_dir, name, *new_dir, new_name);

  Inode *target = child(*new_dir, new_name);
  if (target != nullptr && (flags & RENAME_NOREPLACE)) return EEXIST;
  if (target == source) return 0;  // both names link the same inode: POSIX says do nothing
  if (source->is_dir() && is_in_subtree(source->number(), new_dir->number())) return EINVAL;
  if (target != nullptr) {
    if (source->is_dir() && !target->is_dir()) return ENOTDIR;
    if (!source->is_dir() && target->is_dir()) return EISDIR;
    if (target->is_dir() && !target->entries.empty()) return ENOTEMPTY;
  }
  if (new_dir->attr.st_nlink == 0) return ENOENT;

  fuse_ino_t moved = source->number();
  if (target != nullptr) remove_entry(*new_dir, new_name, *target);  // may free target
  old_dir->entries.erase(old_dir->entries.find(name));
  new_dir->entries.emplace(std::string(new_name), moved);
  timespec time = now();
  if (source->is_dir() && old_dir != new_dir) {
    source->parent = new_dir->number();
    --old_dir->attr.st_nlink;
    ++new_dir->attr.st_nlink;
  }
  source->attr.st_ctim = time;
  touch_entries_changed(*old_dir, time);
  touch_entries_changed(*new_dir, time);
  return 0;
}

int MemFs::rename_exchange(Inode &old_dir, std::string_view name, Inode &new_dir,
                           std::string_view new_name) {
  auto old_entry = old_dir.entries.find(name);
  auto new_entry = new_dir.entries.find(new_name);
  if (new_entry == new_dir.entries.end()) return ENOENT;
  Inode *source = find(old_entry->second);
  Inode *target = find(new_entry->second);
  if (source == nullptr || target == nullptr) return ENOENT;
  if (source == target) return 0;
  if (source->is_dir() && is_in_subtree(source->number(), new_dir.number())) return EINVAL;
  if (target->is_dir() && is_in_subtree(target->number(), old_dir.number())) return EINVAL;
  std::swap(old_entry->second, new_entry->second);
  if (&old_dir != &new_dir) {
    if (source->is_dir()) {
      source->parent = new_dir.number();
      --old_dir.attr.st_nlink;
      ++new_dir.attr.st_nlink;
    }
    if (target->is_dir()) {
      target->parent = old_dir.number();
      --new_dir.attr.st_nlink;
      ++old_dir.attr.st_nlink;
    }
  }
  timespec time = now();
  source->attr.st_ctim = time;
  target->attr.st_ctim = time;
  touch_entries_changed(old_dir, time);
  touch_entries_changed(new_dir, time);
  return 0;
}

// ---- attributes --------------------------------------------------------------------------------

int MemFs::getattr(fuse_ino_t ino, struct stat *attr) {
  std::lock_guard lock(mutex_);
  Inode *inode = find(ino);
  if (inode == nullptr) return ENOENT;
  *attr = inode->attr;
  return 0;
}

int MemFs::setattr(fuse_ino_t ino, const struct stat &wanted, int to_set, struct stat *attr) {
  std::lock_guard lock(mutex_);
  Inode *inode = find(ino);
  if (inode == nullptr) return ENOENT;
  if (to_set & FUSE_SET_ATTR_SIZE) {
    if (inode->is_dir()) return EISDIR;
    if (!inode->is_regular()) return EINVAL;
    if (wanted.st_size < 0) return EINVAL;
  }
  timespec time = now();
  if (to_set & FUSE_SET_ATTR_MODE) {
    inode->attr.st_mode = (inode->attr.st_mode & S_IFMT) | (wanted.st_mode & 07777);
  }
  if (to_set & FUSE_SET_ATTR_UID) inode->attr.st_uid = wanted.st_uid;
  if (to_set & FUSE_SET_ATTR_GID) inode->attr.st_gid = wanted.st_gid;
  if (to_set & FUSE_SET_ATTR_SIZE) {
    uint64_t blocks_before = inode->contents.allocated_blocks();
    inode->contents.truncate(static_cast<uint64_t>(wanted.st_size));
    used_blocks_ -= blocks_before - inode->contents.allocated_blocks();
    sync_size(*inode);
    inode->attr.st_mtim = time;
  }
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    inode->attr.st_atim = time;
  } else if (to_set & FUSE_SET_ATTR_ATIME) {
    inode->attr.st_atim = wanted.st_atim;
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
    inode->attr.st_mtim = time;
  } else if (to_set & FUSE_SET_ATTR_MTIME) {
    inode->attr.st_mtim = wanted.st_mtim;
  }
  inode->attr.st_ctim = (to_set & FUSE_SET_ATTR_CTIME) ? wanted.st_ctim : time;
  *attr = inode->attr;
  return 0;
}

int MemFs::readlink(fuse_ino_t ino, std::string *target) {
  std::lock_guard lock(mutex_);
  Inode *inode = find(ino);
  if (inode == nullptr) return ENOENT;
  if (!S_ISLNK(inode->attr.st_mode)) return EINVAL;
  *target = inode->symlink_target;
  return 0;
}

int MemFs::statfs(struct statvfs *stats) {
  std::lock_guard lock(mutex_);
  *stats = {};
  stats->f_bsize = FileData::kBlockSize;
  stats->f_frsize = FileData::kBlockSize;
  stats->f_blocks = capacity_blocks_;
  stats->f_bfree = capacity_blocks_ > used_blocks_ ? capacity_blocks_ - used_blocks_ : 0;
  stats->f_bavail = stats->f_bfree;
  stats->f_files = kMaxInodes;
  stats->f_ffree = kMaxInodes - std::min<uint64_t>(kMaxInodes, inodes_.size());
  stats->f_favail = stats->f_ffree;
  stats->f_namemax = NAME_MAX;
  return 0;
}

// ---- files -------------------------------------------------------------------------------------

int MemFs::open(fuse_ino_t ino, int flags) {
  std::lock_guard lock(mutex_);
  Inode *inode = find(ino);
  if (inode == nullptr) return ENOENT;
  if (inode->is_dir() && (flags & O_ACCMODE) != O_RDONLY) return EISDIR;
  if ((flags & O_TRUNC) && inode->is_regular()) {
    used_blocks_ -= inode->contents.allocated_blocks();
    inode->contents.truncate(0);
    sync_size(*inode);
    timespec time = now();
    inode->attr.st_mtim = time;
    inode->attr.st_ctim = time;
  }
  ++inode->open_handles;
  return 0;
}

int MemFs::create(const Caller &caller, fuse_ino_t parent, std::string_view name, mode_t mode,
                  int flags, fuse_entry_param *entry) {
  std::lock_guard lock(mutex_);
  Inode *dir;
  if (int error = find_directory(parent, &dir)) return error;
  Inode *inode = child(*dir, name);
  if (inode != nullptr) {
    // Only a racing creator gets here (the kernel looks the name up first): act like open(2).
    if (flags & O_EXCL) return EEXIST;
    if (inode->is_dir()) return EISDIR;
    if ((flags & O_TRUNC) && inode->is_regular()) {
      used_blocks_ -= inode->contents.allocated_blocks();
      inode->contents.truncate(0);
      sync_size(*inode);
      inode->attr.st_mtim = inode->attr.st_ctim = now();
    }
  } else if (int error = add_new_entry(caller, parent, name,
                                       S_IFREG | (mode & 07777 & ~caller.umask), &inode)) {
    return error;
  }
  ++inode->open_handles;
  count_lookup(*inode, entry);
  return 0;
}

int MemFs::read(fuse_ino_t ino, uint64_t offset, size_t count, std::vector<char> *data) {
  std::lock_guard lock(mutex_);
  Inode *inode = find(ino);
  if (inode == nullptr) return ENOENT;
  if (inode->is_dir()) return EISDIR;
  if (!inode->is_regular()) return EINVAL;
  uint64_t size = inode->contents.size();
  count = offset >= size ? 0 : static_cast<size_t>(std::min<uint64_t>(count, size - offset));
  try {
    data->resize(count);
  } catch (const std::bad_alloc &) {
    return ENOMEM;
  }
  data->resize(inode->contents.read(offset, count, data->data()));
  inode->attr.st_atim = now();
  return 0;
}

int MemFs::write(fuse_ino_t ino, uint64_t offset, const char *data, size_t count, bool append,
                 size_t *written) {
  std::lock_guard lock(mutex_);
  Inode *inode = find(ino);
  if (inode == nullptr) return ENOENT;
  if (inode->is_dir()) return EISDIR;
  if (!inode->is_regular()) return EINVAL;
  if (append) offset = inode->contents.size();
  if (offset > kMaxFileSize || count > kMaxFileSize - offset) return EFBIG;
  if (used_blocks_ + inode->contents.blocks_needed_for_write(offset, count) > capacity_blocks_) {
    return ENOSPC;
  }
  uint64_t blocks_before = inode->contents.allocated_blocks();
  int error = 0;
  try {
    inode->contents.write(offset, data, count);
  } catch (const std::bad_alloc &) {
    error = ENOMEM;
  }
  used_blocks_ += inode->contents.allocated_blocks() - blocks_before;
  sync_size(*inode);
  if (error) return error;
  inode->attr.st_mtim = inode->attr.st_ctim = now();
  *written = count;
  return 0;
}

void MemFs::release(fuse_ino_t ino) {
  std::lock_guard lock(mutex_);
  Inode *inode = find(ino);
  if (inode == nullptr) return;
  if (inode->open_handles > 0) --inode->open_handles;
  free_if_unused(*inode);
}

// ---- directories -------------------------------------------------------------------------------

int MemFs::opendir(fuse_ino_t ino) {
  std::lock_guard lock(mutex_);
  Inode *dir;
  if (int error = find_directory(ino, &dir)) return error;
  ++dir->open_handles;
  return 0;
}

int MemFs::list_directory(fuse_ino_t ino, std::vector<DirEntry> *entries) {
  std::lock_guard lock(mutex_);
  Inode *dir;
  if (int error = find_directory(ino, &dir)) return error;
  entries->clear();
  entries->push_back({".", dir->number(), S_IFDIR});
  entries->push_back({"..", dir->parent, S_IFDIR});
  for (const auto &[name, child_ino] : dir->entries) {
    Inode *inode = find(child_ino);
    if (inode != nullptr) entries->push_back({name, child_ino, inode->attr.st_mode & S_IFMT});
  }
  dir->attr.st_atim = now();
  return 0;
}

// ---- extended attributes -----------------------------------------------------------------------

int MemFs::getxattr(fuse_ino_t ino, std::string_view name, std::string *value) {
  std::lock_guard lock(mutex_);
  Inode *inode = find(ino);
  if (inode == nullptr) return ENOENT;
  if (ino == FUSE_ROOT_ID && name == kNlookupXattr) {
    *value = std::to_string(lookups_except_root_);
    return 0;
  }
  auto it = inode->xattrs.find(name);
  if (it == inode->xattrs.end()) return ENODATA;
  *value = it->second;
  return 0;
}

int MemFs::listxattr(fuse_ino_t ino, std::string *names) {
  std::lock_guard lock(mutex_);
  Inode *inode = find(ino);
  if (inode == nullptr) return ENOENT;
  names->clear();
  for (const auto &[name, value] : inode->xattrs) {
    names->append(name);
    names->push_back('\0');
  }
  return 0;
}

int MemFs::setxattr(fuse_ino_t ino, std::string_view name, std::string_view value, int flags) {
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return EINVAL;
  if (name.empty() || name.size() > kMaxXattrNameLength) return ERANGE;
  if (value.size() > kMaxXattrValueSize) return E2BIG;
  if (is_posix_acl_xattr(name)) return EOPNOTSUPP;
  std::lock_guard lock(mutex_);
  Inode *inode = find(ino);
  if (inode == nullptr) return ENOENT;
  if (ino == FUSE_ROOT_ID && name == kNlookupXattr) return EPERM;
  auto it = inode->xattrs.find(name);
  if (it != inode->xattrs.end() && (flags & XATTR_CREATE)) return EEXIST;
  if (it == inode->xattrs.end() && (flags & XATTR_REPLACE)) return ENODATA;
  if (it == inode->xattrs.end()) {
    inode->xattrs.emplace(std::string(name), std::string(value));
  } else {
    it->second = value;
  }
  inode->attr.st_ctim = now();
  return 0;
}

int MemFs::removexattr(fuse_ino_t ino, std::string_view name) {
  std::lock_guard lock(mutex_);
  Inode *inode = find(ino);
  if (inode == nullptr) return ENOENT;
  if (ino == FUSE_ROOT_ID && name == kNlookupXattr) return EPERM;
  if (is_posix_acl_xattr(name)) return EOPNOTSUPP;
  auto it = inode->xattrs.find(name);
  if (it == inode->xattrs.end()) return ENODATA;
  inode->xattrs.erase(it);
  inode->attr.st_ctim = now();
  return 0;
}

}  // namespace finesse::examples::memfs
