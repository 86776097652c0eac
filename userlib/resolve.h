// Turns (dirfd, path) into "this attached mount, this path below its root", or says the
// kernel must handle it. By default the base of a relative path is taken from the kernel
// each time (getcwd, /proc/self/fd/N): it always names where the cwd or dirfd is now.
// The shim installs a BaseProvider instead: it knows the bases from its own caches, without
// a syscall, and has the server check them (PathArg.verify_len/verify_ino).
#pragma once

#include <cstddef>
#include <cstdint>

#include "registry_cache.h"
#include "wire.h"

namespace finesse::client {

struct Target {
  MountMatch m;
  const char *rel;  // points into buf
  size_t rel_len;
  uint32_t verify_len = 0;   // leading bytes of rel naming a cached base directory...
  uint64_t verify_ino = 0;   // ...which must still have this inode number
  bool cached_base = false;  // the base came from a BaseProvider
  bool cwd_base = false;     // ...and is the cwd: verify_ino is set, the server checks it
  uint64_t base_ino = 0;     // a cached base's inode number, as its provider recorded it
  char buf[2 * wire::kPathMax];
};

// A known directory: its absolute path (written into the caller's buffer), inode number and
// mount id. Returns false when the base is unknown: the call then goes to the kernel.
using BaseProvider = bool (*)(int dirfd, char *out, size_t cap, uint64_t *ino, uint64_t *mnt_id);
// Installed once by the shim before any call; the explicit API never installs one.
void set_base_provider(BaseProvider p);

// Called after the server refused (FALLBACK) a request with a cached cwd base: the cwd may
// have changed where the provider could not see it. Installed by the shim.
using CwdStaleHook = void (*)();
void set_cwd_stale_hook(CwdStaleHook h);
void cwd_base_refused();

bool resolve_target(int dirfd, const char *path, Target *t);

// Whether dirfd (AT_FDCWD: the cwd) is, as the kernel says now, t's cached base: that inode
// on that mount. One statx that never asks the file system (AT_STATX_DONT_SYNC).
bool base_is_current(int dirfd, const Target &t);

}  // namespace finesse::client
