// Resolves a mount-relative path the way the kernel's path walk does (search permission on
// every directory, ENOTDIR, ENAMETOOLONG, `.` and `..`), through the server's cache and the
// file system's lookup op. Anything the kernel would do that the server cannot (follow a
// symlink, leave the mount through `..`, cross into a nested mount) returns kToKernel.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>
#include <vector>

#include "result.h"
#include "serve_ctx.h"

namespace finesse::server {

struct WalkResult {
  fuse_ino_t parent = 0;  // directory holding the final component (0 for the root / dots)
  struct stat parent_attr {};
  std::string name;  // final component; empty for the mount root
  bool dot = false;  // the final component was `.` or `..` (no usable parent/name)
  bool exists = false;
  fuse_ino_t ino = 0;
  struct stat attr {};             // of the final node when it exists (maybe stale)
  std::vector<fuse_ino_t> chain;   // directories from the root to parent, inclusive
  // The final node came from a kernel entry (NodeCache::find_kernel_entry): ino is the
  // kernel's node (pinned against its forget for the request), attr fresh (the entry's, or
  // just read by that node).
  bool from_kernel_entry = false;
};

struct WalkSpec {
  std::string_view path;
  uint32_t verify_len = 0;
  uint64_t verify_ino = 0;
  bool follow_final = true;
  // A name the server has not looked up may be answered from what the kernel was given for
  // it (it would answer from its cache, and check permissions against those attributes).
  bool attr_only = false;
};

Result walk_path(ServeCtx &ctx, const WalkSpec &spec, WalkResult *out);

// Attributes of a node, fetched from the file system if the cached ones expired (as the
// kernel's getattr does). 0 or -errno.
Result fresh_attr(ServeCtx &ctx, fuse_ino_t ino, struct stat *attr);

// Attributes of a node from the file system, whatever is cached (statx with
// AT_STATX_FORCE_SYNC), and cached in turn. 0 or -errno.
Result synced_attr(ServeCtx &ctx, fuse_ino_t ino, struct stat *attr);

}  // namespace finesse::server
