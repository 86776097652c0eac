// The POSIX permission check used by the in-memory file systems' access() handlers.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <functional>
#include <vector>

namespace finesse::examples {

// Who is asking, as libfuse reports it (fuse_req_ctx or fuse_get_context).
struct Caller {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t umask = 022;
};

// Whether `caller` may access a file with attributes `attr` for `mask` (R_OK|W_OK|X_OK, or F_OK).
// The supplementary groups are fetched lazily: only when the owner and the primary group do
// not decide the case, because fetching them means reading /proc.
bool may_access(const struct stat &attr, const Caller &caller, int mask,
                const std::function<std::vector<gid_t>()> &supplementary_groups);

}  // namespace finesse::examples
