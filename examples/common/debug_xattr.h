// A test hook shared by the low-level sample file systems.
#pragma once

namespace finesse::examples {

// getxattr of this name on the root inode answers, as decimal text, the sum of the lookup
// counts (nlookup) of all inodes except the root: tests use it to check that every
// fuse_reply_entry/fuse_reply_create is balanced by forgets. It is not listed by listxattr
// and cannot be set or removed (EPERM).
inline constexpr char kNlookupXattr[] = "user.finesse.nlookup";

}  // namespace finesse::examples
