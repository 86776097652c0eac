// The client's cached copy of the mount registry and the path classification built on it:
// an absolute path is on an attached mount when a registered mount path is a prefix of it
// on a component boundary (/mnt/fs2 is not under /mnt/fs). The copy is refreshed when older
// than FINESSE_REGISTRY_TTL_MS; while a refresh is under way, readers take the kernel path.
#pragma once

#include <cstddef>
#include <cstdint>

#include "registry_abi.h"

namespace finesse::client {

struct MountMatch {
  uint64_t mnt_id;
  size_t prefix_len;  // bytes of the path that name the mount point
  char mount_path[FINESSE_MOUNT_PATH_MAX];
  char socket_path[FINESSE_SOCKET_PATH_MAX];
  uint32_t server_pid;
};

// True when path (absolute) is on an attached mount; fills m.
bool classify_absolute(const char *path, MountMatch *m);
// The attached mount with this mount id (not hidden), as classify_absolute fills it with
// prefix_len 0. False: not attached here.
bool classify_mount_id(uint64_t mnt_id, MountMatch *m);
// Forces the next classification to re-read the registry.
void registry_invalidate();

}  // namespace finesse::client
