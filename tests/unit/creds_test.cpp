// The kernel's permission rules as the server applies them.
#include "creds.h"

#include <gtest/gtest.h>

#include "mount_info.h"

namespace finesse::server {
namespace {

struct stat file(uid_t uid, gid_t gid, mode_t mode) {
  struct stat st {};
  st.st_uid = uid;
  st.st_gid = gid;
  st.st_mode = mode;
  return st;
}

Creds user(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}) {
  Creds c;
  c.uid = c.ruid = uid;
  c.gid = c.rgid = gid;
  c.groups = std::move(groups);
  return c;
}

TEST(Creds, OwnerGroupOtherAreExclusiveClasses) {
  // The owner is judged by the owner bits only, even when "other" would allow more.
  EXPECT_EQ(check_permission(user(1, 1), file(1, 2, S_IFREG | 0077), 4), -EACCES);
  EXPECT_EQ(check_permission(user(3, 2), file(1, 2, S_IFREG | 0407), 4), -EACCES);
  EXPECT_EQ(check_permission(user(3, 9, {2}), file(1, 2, S_IFREG | 0040), 4), 0);
  EXPECT_EQ(check_permission(user(3, 3), file(1, 2, S_IFREG | 0004), 4), 0);
  EXPECT_EQ(check_permission(user(3, 3), file(1, 2, S_IFREG | 0004), 2), -EACCES);
}

TEST(Creds, RootBypassesAllButExecuteOfANonExecutable) {
  Creds root = user(0, 0);
  root.privileged = true;
  EXPECT_EQ(check_permission(root, file(1, 1, S_IFREG | 0000), 6), 0);
  EXPECT_EQ(check_permission(root, file(1, 1, S_IFREG | 0000), 1), -EACCES);
  EXPECT_EQ(check_permission(root, file(1, 1, S_IFREG | 0010), 1), 0);
  EXPECT_EQ(check_permission(root, file(1, 1, S_IFDIR | 0000), 1), 0);
}

TEST(Creds, StickyDirectories) {
  struct stat dir = file(0, 0, S_IFDIR | 01777);
  EXPECT_EQ(check_sticky(user(5, 5), dir, file(6, 6, S_IFREG | 0666)), -EPERM);
  EXPECT_EQ(check_sticky(user(6, 5), dir, file(6, 6, S_IFREG | 0666)), 0);
  EXPECT_EQ(check_sticky(user(0, 0), file(0, 0, S_IFDIR | 0777), file(6, 6, S_IFREG)), 0);
  struct stat owned = file(5, 5, S_IFDIR | 01777);
  EXPECT_EQ(check_sticky(user(5, 5), owned, file(6, 6, S_IFREG)), 0) << "the dir's owner";
}

TEST(Creds, AccessUsesRealIds) {
  Creds c = user(0, 0);
  c.ruid = 1000;
  c.rgid = 1000;
  c.privileged = true;
  Creds a = access_creds(c);
  EXPECT_EQ(a.uid, 1000u);
  EXPECT_FALSE(a.privileged);
}

TEST(MountInfo, ParsesOptionsAndNestedMounts) {
  std::string text =
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
      "45 22 0:40 / /mnt/my\\040fs rw,nosuid,nodev - fuse.memfs memfs "
      "rw,user_id=0,group_id=0,default_permissions,allow_other\n"
      "46 45 0:41 / /mnt/my\\040fs/sub rw - tmpfs tmpfs rw\n"
      "47 22 0:42 / /mnt/my\\040fs2 rw - tmpfs tmpfs rw\n";
  MountInfo mi = parse_mountinfo(text, "/mnt/my fs");
  ASSERT_TRUE(mi.found);
  EXPECT_EQ(mi.mnt_id, 45u);
  EXPECT_EQ(mi.kernel_dev, (0u << 20) | 40u);
  EXPECT_TRUE(mi.default_permissions);
  EXPECT_TRUE(mi.allow_other);
  EXPECT_FALSE(mi.read_only);
  ASSERT_EQ(mi.nested.size(), 1u);
  EXPECT_EQ(mi.nested[0], "sub");
  EXPECT_FALSE(parse_mountinfo(text, "/mnt").found);
  EXPECT_FALSE(mi.covered);  // neither the nested mount nor the sibling with a shared prefix
}

// A mount made later on our mount point or on an ancestor of it hides ours (issue 13.5).
TEST(MountInfo, CoveredByALaterMountOnThePointOrAnAncestor) {
  std::string base =
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
      "30 22 0:30 / /mnt rw - tmpfs tmpfs rw\n"
      "45 30 0:40 / /mnt/fs rw - fuse.memfs memfs rw,user_id=0,group_id=0\n";
  EXPECT_FALSE(parse_mountinfo(base, "/mnt/fs").covered);
  EXPECT_TRUE(parse_mountinfo(base + "50 45 0:50 / /mnt/fs rw - tmpfs t rw\n", "/mnt/fs").covered);
  EXPECT_TRUE(parse_mountinfo(base + "50 30 0:50 / /mnt rw - tmpfs t rw\n", "/mnt/fs").covered);
  EXPECT_FALSE(parse_mountinfo(base + "50 22 0:50 / /mn rw - tmpfs t rw\n", "/mnt/fs").covered);
  EXPECT_FALSE(
      parse_mountinfo(base + "50 45 0:50 / /mnt/fs/x rw - tmpfs t rw\n", "/mnt/fs").covered);
}

}  // namespace
}  // namespace finesse::server
