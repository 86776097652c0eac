#include "passthrough/inode_table.h"

#include <unistd.h>

#include <algorithm>

namespace finesse::examples::passthrough {

Inode::~Inode() {
  close(path_fd_);
}

InodeTable::InodeTable(int root_fd) {
  struct stat attr {};
  fstat(root_fd, &attr);
  Entry root{std::make_shared<Inode>(root_fd, attr), {attr.st_dev, attr.st_ino}, 0};
  // The root is not in by_file_: a lookup of the source directory through a bind mount or
  // ".." gets a node id of its own.
  by_node_id_.emplace(FUSE_ROOT_ID, std::move(root));
}

fuse_ino_t InodeTable::remember(int path_fd, const struct stat &attr) {
  std::pair<dev_t, ino_t> file{attr.st_dev, attr.st_ino};
  std::lock_guard lock(mutex_);
  fuse_ino_t ino;
  if (auto known = by_file_.find(file); known != by_file_.end()) {
    ino = known->second;
    close(path_fd);
  } else {
    ino = next_node_id_++;
    by_node_id_.emplace(ino, Entry{std::make_shared<Inode>(path_fd, attr), file, 0});
    by_file_.emplace(file, ino);
  }
  ++by_node_id_[ino].nlookup;
  ++lookups_except_root_;
  return ino;
}

void InodeTable::forget(fuse_ino_t ino, uint64_t count) {
  std::shared_ptr<Inode> last_reference;  // closed after the lock is released
  std::lock_guard lock(mutex_);
  auto it = by_node_id_.find(ino);
  if (it == by_node_id_.end()) return;
  Entry &entry = it->second;
  count = std::min(count, entry.nlookup);
  entry.nlookup -= count;
  if (ino == FUSE_ROOT_ID) return;
  lookups_except_root_ -= count;
  if (entry.nlookup == 0) {
    last_reference = std::move(entry.inode);
    by_file_.erase(entry.file);
    by_node_id_.erase(it);
  }
}

std::shared_ptr<Inode> InodeTable::find(fuse_ino_t ino) {
  std::lock_guard lock(mutex_);
  auto it = by_node_id_.find(ino);
  return it == by_node_id_.end() ? nullptr : it->second.inode;
}

uint64_t InodeTable::lookups_except_root() {
  std::lock_guard lock(mutex_);
  return lookups_except_root_;
}

}  // namespace finesse::examples::passthrough
