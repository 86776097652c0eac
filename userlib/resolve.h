// Turns (dirfd, path) into "this attached mount, this path below its root", or says the
// kernel must handle it. The base of a relative path is taken from the kernel each time
// (getcwd, /proc/self/fd/N): it always names where the cwd or dirfd is now.
#pragma once

#include <cstddef>

#include "registry_cache.h"
#include "wire.h"

namespace finesse::client {

struct Target {
  MountMatch m;
  const char *rel;  // points into buf
  size_t rel_len;
  char buf[2 * wire::kPathMax];
};

bool resolve_target(int dirfd, const char *path, Target *t);

}  // namespace finesse::client
