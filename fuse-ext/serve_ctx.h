// Everything a handler needs to serve one request for one client.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "creds.h"
#include "fs_call.h"
#include "kernel_view.h"
#include "node_cache.h"

namespace finesse::server {

// Facts about the mount, refreshed when /proc/self/mountinfo changes.
struct MountFacts {
  bool default_permissions = false;
  bool allow_other = false;
  bool read_only = false;
  bool posix_acl = false;        // the file system enabled FUSE_CAP_POSIX_ACL
  bool dont_mask = false;        // FUSE_CAP_DONT_MASK: the file system applies the umask
  // FUSE_CAP_WRITEBACK_CACHE: the kernel owns size and mtime of files it has dirty pages
  // for, and flushes them before a size change; such setattrs go through the kernel.
  bool writeback_cache = false;
  bool protected_hardlinks = true;
  std::unordered_set<std::string> nested;  // mount points below ours, relative paths
  bool noexec = false;                     // the mount point's noexec
  uint64_t mnt_id = 0;                     // the mount's id (wire::kByNode checks an fd's)

  // Whether only the kernel knows a node of this mode's attributes: with the writeback cache
  // it keeps a regular file's size and times over what the file system says (it may hold
  // dirty pages the file system has not seen).
  bool kernel_owns_attrs(mode_t mode) const { return writeback_cache && S_ISREG(mode); }
};

class AbsentXattrMemo;
class Listings;
class ListingBudget;

struct ServeCtx {
  const Creds *creds;
  const MountFacts *mount;
  FsState *fs;               // the file system (its ops, its session)
  const KernelView *kernel;  // what the kernel was told
  NodeCache *cache;
  mode_t umask = 022;
  Invalidations inval;
  std::vector<Forget> forgets;   // lookups to return once the request is answered
  Pins pins;                     // nodes this request uses (NodeCache: unpin at its end)
  int pidfd = -1;               // the client's process (cred_watch.h), -1: unknown
  Listings *listings = nullptr;  // the client's kept directory listings (dir_listing.h)
  ListingBudget *listing_budget = nullptr;  // what all clients' kept listings may take
  AbsentXattrMemo *absent_memo = nullptr;   // the file system's absent-xattr answers

  CallCtx call() const { return CallCtx{fs, creds, umask}; }
};

}  // namespace finesse::server
