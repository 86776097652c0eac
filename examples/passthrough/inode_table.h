// The inodes finesse-passthrough has handed to the kernel: an O_PATH fd per source file, keyed
// by (st_dev, st_ino) so that hard links share one node id, with the kernel's lookup count.
#pragma once

#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace finesse::examples::passthrough {

// Closes its fd when the last reference goes: an operation running on another thread keeps
// the fd valid even if the kernel forgets the inode meanwhile.
class Inode {
 public:
  Inode(int path_fd, const struct stat &attr) : path_fd_(path_fd), type_(attr.st_mode & S_IFMT) {}
  ~Inode();
  Inode(const Inode &) = delete;
  Inode &operator=(const Inode &) = delete;

  int path_fd() const { return path_fd_; }  // opened with O_PATH | O_NOFOLLOW
  bool is_symlink() const { return type_ == S_IFLNK; }

 private:
  const int path_fd_;
  const mode_t type_;
};

class InodeTable {
 public:
  // Takes ownership of root_fd, the source directory opened with O_PATH.
  explicit InodeTable(int root_fd);

  // Records one lookup of the file `path_fd` refers to and returns its node id. Takes
  // ownership of path_fd (closing it when the file is already known).
  fuse_ino_t remember(int path_fd, const struct stat &attr);

  // Drops `count` lookups; the inode goes when none remain (the root stays).
  void forget(fuse_ino_t ino, uint64_t count);

  // The inode for a node id, or nullptr for an unknown id.
  std::shared_ptr<Inode> find(fuse_ino_t ino);

  // Sum of the lookup counts of all inodes except the root.
  uint64_t lookups_except_root();

 private:
  struct Entry {
    std::shared_ptr<Inode> inode;
    std::pair<dev_t, ino_t> file;
    uint64_t nlookup = 0;
  };

  std::mutex mutex_;
  std::unordered_map<fuse_ino_t, Entry> by_node_id_;
  std::map<std::pair<dev_t, ino_t>, fuse_ino_t> by_file_;
  fuse_ino_t next_node_id_ = FUSE_ROOT_ID + 1;  // never reused, so generation 0 suffices
  uint64_t lookups_except_root_ = 0;
};

}  // namespace finesse::examples::passthrough
