// finesse-memfs: an in-memory POSIX file system on the libfuse low-level API.
//
// MemFs holds the inode table and implements every operation as a method returning 0 or a
// positive errno; memfs_ops.cpp adapts them to fuse_lowlevel_ops (one handler per op, one reply
// each). All state is guarded by one mutex, so the methods may be called from any thread,
// including threads that are not libfuse's.
//
// Lookup counting: each method that fills a fuse_entry_param counts one lookup of that inode;
// the caller must call forget() if its fuse_reply_entry/fuse_reply_create fails. An inode is
// freed when it has no links, no lookups and no open handles.
#pragma once

#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/permissions.h"
#include "memfs/inode.h"

namespace finesse::examples::memfs {

struct Timeouts {
  double entry = 1.0;
  double attr = 1.0;
  double negative = 0.0;
};

struct DirEntry {
  std::string name;
  fuse_ino_t ino;
  mode_t type;  // S_IFDIR, S_IFREG, ...
};

class MemFs {
 public:
  explicit MemFs(Timeouts timeouts, uint64_t capacity_bytes = 0);  // 0: physical memory size
  MemFs(const MemFs &) = delete;
  MemFs &operator=(const MemFs &) = delete;

  const Timeouts &timeouts() const { return timeouts_; }

  // Names and links. `entry` gets the inode's attributes and timeouts, counting one lookup.
  int lookup(fuse_ino_t parent, std::string_view name, fuse_entry_param *entry);
  void forget(fuse_ino_t ino, uint64_t count);
  int mknod(const Caller &caller, fuse_ino_t parent, std::string_view name, mode_t mode, dev_t rdev,
            fuse_entry_param *entry);
  int mkdir(const Caller &caller, fuse_ino_t parent, std::string_view name, mode_t mode,
            fuse_entry_param *entry);
  int symlink(const Caller &caller, std::string_view target, fuse_ino_t parent,
              std::string_view name, fuse_entry_param *entry);
  int link(fuse_ino_t ino, fuse_ino_t new_parent, std::string_view new_name,
           fuse_entry_param *entry);
  int unlink(fuse_ino_t parent, std::string_view name);
  int rmdir(fuse_ino_t parent, std::string_view name);
  int rename(fuse_ino_t parent, std::string_view name, fuse_ino_t new_parent,
             std::string_view new_name, unsigned int flags);

  // Attributes.
  int getattr(fuse_ino_t ino, struct stat *attr);
  // `to_set` is a mask of FUSE_SET_ATTR_* selecting fields of `wanted`; `attr` gets the result.
  int setattr(fuse_ino_t ino, const struct stat &wanted, int to_set, struct stat *attr);
  int readlink(fuse_ino_t ino, std::string *target);
  int statfs(struct statvfs *stats);

  // Files. open/create count an open handle that release() gives back.
  int open(fuse_ino_t ino, int flags);
  int create(const Caller &caller, fuse_ino_t parent, std::string_view name, mode_t mode, int flags,
             fuse_entry_param *entry);
  int read(fuse_ino_t ino, uint64_t offset, size_t count, std::vector<char> *data);
  int write(fuse_ino_t ino, uint64_t offset, const char *data, size_t count, bool append,
            size_t *written);
  void release(fuse_ino_t ino);

  // Directories. opendir counts an open handle that release() gives back.
  int opendir(fuse_ino_t ino);
  int list_directory(fuse_ino_t ino, std::vector<DirEntry> *entries);  // with . and ..

  // Extended attributes.
  int getxattr(fuse_ino_t ino, std::string_view name, std::string *value);
  int listxattr(fuse_ino_t ino, std::string *names);  // NUL-terminated names, concatenated
  int setxattr(fuse_ino_t ino, std::string_view name, std::string_view value, int flags);
  int removexattr(fuse_ino_t ino, std::string_view name);

 private:
  // All private helpers expect mutex_ to be held.
  Inode *find(fuse_ino_t ino);
  int find_directory(fuse_ino_t ino, Inode **dir);
  Inode *child(const Inode &dir, std::string_view name);
  Inode &new_inode(const Caller &caller, Inode &parent, mode_t mode);
  int add_new_entry(const Caller &caller, fuse_ino_t parent, std::string_view name, mode_t mode,
                    Inode **created);
  void count_lookup(Inode &inode, fuse_entry_param *entry);
  void remove_entry(Inode &dir, std::string_view name, Inode &target);
  void free_if_unused(Inode &inode);
  bool is_in_subtree(fuse_ino_t ancestor, fuse_ino_t ino);
  int rename_exchange(Inode &old_dir, std::string_view name, Inode &new_dir,
                      std::string_view new_name);

  const Timeouts timeouts_;
  const uint64_t capacity_blocks_;
  std::mutex mutex_;
  std::unordered_map<fuse_ino_t, std::unique_ptr<Inode>> inodes_;
  fuse_ino_t next_ino_ = FUSE_ROOT_ID + 1;
  uint64_t used_blocks_ = 0;
  uint64_t lookups_except_root_ = 0;  // answers the kNlookupXattr debug attribute
};

}  // namespace finesse::examples::memfs
