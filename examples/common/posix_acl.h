// POSIX ACL xattrs in the sample file systems.
#pragma once

#include <string_view>

namespace finesse::examples {

// The kernel is not given FUSE_CAP_POSIX_ACL, so it neither enforces ACLs nor refreshes the
// cached mode when one is set, and an ACL kept as an opaque xattr would silently drop the mode
// that `cp -a` or `setfacl` meant to set (libacl sets a minimal ACL instead of calling chmod).
// Setting or removing one is refused with EOPNOTSUPP, which makes those tools fall back to chmod.
inline bool is_posix_acl_xattr(std::string_view name) {
  return name.rfind("system.posix_acl_", 0) == 0;
}

}  // namespace finesse::examples
