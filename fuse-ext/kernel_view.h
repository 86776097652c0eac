// What the kernel may have cached, learned from the replies libfuse sends it: an inode the
// kernel holds a lookup on may have dentries and attributes in the kernel's caches, and
// after a bypassed mutation exactly those are invalidated (fuse_lowlevel_notify_*).
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace finesse::server {

class KernelView {
 public:
  void note_lookup(fuse_ino_t ino);
  void note_forget(fuse_ino_t ino, uint64_t n);
  bool known(fuse_ino_t ino) const;
  void clear();

 private:
  mutable std::mutex mu_;
  std::unordered_map<fuse_ino_t, uint64_t> nlookup_;
};

KernelView &kernel_view();

// Invalidations collected while serving a request and sent after every lock is released
// (the kernel takes directory locks to apply them, and a kernel request holding such a lock
// may be waiting for the file system).
class Invalidations {
 public:
  void entry(fuse_ino_t parent, const std::string &name) { entries_.push_back({parent, name}); }
  void inode(fuse_ino_t ino) { inodes_.push_back(ino); }
  // Sends those the kernel can have cached. Returns how many were sent.
  int send(fuse_session *se);

 private:
  std::vector<std::pair<fuse_ino_t, std::string>> entries_;
  std::vector<fuse_ino_t> inodes_;
};

}  // namespace finesse::server
