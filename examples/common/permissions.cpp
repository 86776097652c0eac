#include "common/permissions.h"

#include <unistd.h>

#include <algorithm>

namespace finesse::examples {

bool may_access(const struct stat &attr, const Caller &caller, int mask,
                const std::function<std::vector<gid_t>()> &supplementary_groups) {
  mask &= R_OK | W_OK | X_OK;
  if (mask == 0) return true;
  if (caller.uid == 0) {
    // root may read and write anything, and execute what anyone may execute.
    return !(mask & X_OK) || S_ISDIR(attr.st_mode) ||
           (attr.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH));
  }
  mode_t granted;
  if (caller.uid == attr.st_uid) {
    granted = (attr.st_mode >> 6) & 7;
  } else {
    bool in_group = caller.gid == attr.st_gid;
    if (!in_group && supplementary_groups) {
      std::vector<gid_t> groups = supplementary_groups();
      in_group = std::find(groups.begin(), groups.end(), attr.st_gid) != groups.end();
    }
    granted = in_group ? (attr.st_mode >> 3) & 7 : attr.st_mode & 7;
  }
  return (granted & static_cast<mode_t>(mask)) == static_cast<mode_t>(mask);
}

}  // namespace finesse::examples
