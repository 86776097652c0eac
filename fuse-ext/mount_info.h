// Our own mount as /proc/self/mountinfo describes it: its id, device, options (the kernel's
// view of default_permissions, allow_other, ro, user_id) and the mounts nested below it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace finesse::server {

struct MountInfo {
  bool found = false;
  uint64_t mnt_id = 0;
  uint32_t kernel_dev = 0;  // MAJOR << 20 | MINOR, as the kernel's s_dev
  bool default_permissions = false;
  bool allow_other = false;
  bool read_only = false;
  bool noexec = false;  // the mount point's noexec (access(X_OK) of a regular file: EACCES)
  uid_t user_id = 0;
  gid_t group_id = 0;
  std::vector<std::string> nested;  // mount points below ours, relative to our root
  // A mount made after ours on our mount point or on one of its ancestors hides ours: the
  // path no longer leads to it.
  bool covered = false;
};

// Parses mountinfo text (exposed for tests) for the newest FUSE mount at mountpoint.
MountInfo parse_mountinfo(const std::string &text, const std::string &mountpoint);
MountInfo read_mount_info(const std::string &mountpoint);

}  // namespace finesse::server
