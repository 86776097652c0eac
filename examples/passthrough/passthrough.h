// finesse-passthrough: mirrors a source directory through the libfuse low-level API, in the
// style of libfuse's passthrough_ll (an O_PATH fd per inode, /proc/self/fd paths for the
// operations that O_PATH fds do not support).
#pragma once

#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <memory>
#include <string>

#include "passthrough/inode_table.h"

namespace finesse::examples::passthrough {

struct Timeouts {
  double entry = 1.0;
  double attr = 1.0;
  double negative = 0.0;
};

class Passthrough {
 public:
  // Takes ownership of source_fd, the source directory opened with O_PATH.
  Passthrough(int source_fd, Timeouts timeouts) : timeouts_(timeouts), inodes_(source_fd) {}

  const Timeouts &timeouts() const { return timeouts_; }
  InodeTable &inodes() { return inodes_; }

  // Looks `name` up in `parent` and fills `entry`, counting one lookup. Returns 0 or an errno.
  int lookup(const Inode &parent, const char *name, fuse_entry_param *entry);

 private:
  const Timeouts timeouts_;
  InodeTable inodes_;
};

// "/proc/self/fd/N" for an fd: reaches the file an O_PATH fd refers to, for the calls that
// need a path (xattrs, chmod, truncate, open, utimensat, access).
std::string proc_path(int fd);

// Opens `source` with O_PATH; returns -1 and sets errno on failure.
int open_source_directory(const std::string &source);

const fuse_lowlevel_ops &passthrough_operations();

}  // namespace finesse::examples::passthrough
