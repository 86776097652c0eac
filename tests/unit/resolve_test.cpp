// base_is_current: whether a dirfd (or the cwd) is, as the kernel says now, the inode on the
// mount that the shim's caches recorded for it: what lets a listing answer a stat through it.
#include "resolve.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace finesse::client {
namespace {

struct Dir {
  Dir() {
    char tmpl[] = "/tmp/finesse-resolve-XXXXXX";
    path = mkdtemp(tmpl);
    fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  ~Dir() {
    close(fd);
    rmdir(path.c_str());
  }
  std::string path;
  int fd = -1;
};

// A target whose cached base is dir as statx sees it.
Target target_of(const Dir &dir) {
  struct statx stx {};
  EXPECT_EQ(statx(dir.fd, "", AT_EMPTY_PATH, STATX_INO | STATX_MNT_ID, &stx), 0);
  Target t{};
  t.cached_base = true;
  t.base_ino = stx.stx_ino;
  t.m.mnt_id = stx.stx_mnt_id;
  return t;
}

TEST(BaseIsCurrent, TheDirfdMustBeTheRecordedInodeOnTheRecordedMount) {
  Dir a, b;
  ASSERT_GE(a.fd, 0);
  ASSERT_GE(b.fd, 0);
  const Target t = target_of(a);
  EXPECT_TRUE(base_is_current(a.fd, t));
  EXPECT_FALSE(base_is_current(b.fd, t)) << "another directory at that fd";
  Target other_mount = t;
  other_mount.m.mnt_id++;
  EXPECT_FALSE(base_is_current(a.fd, other_mount));
  Target not_cached = t;
  not_cached.cached_base = false;
  EXPECT_FALSE(base_is_current(a.fd, not_cached)) << "no base recorded";
  EXPECT_FALSE(base_is_current(9999, t)) << "an fd that is not open";
  // The cwd.
  char here[4096];
  ASSERT_NE(getcwd(here, sizeof here), nullptr);
  ASSERT_EQ(chdir(a.path.c_str()), 0);
  EXPECT_TRUE(base_is_current(AT_FDCWD, t));
  ASSERT_EQ(chdir(b.path.c_str()), 0);
  EXPECT_FALSE(base_is_current(AT_FDCWD, t));
  ASSERT_EQ(chdir(here), 0);
}

}  // namespace
}  // namespace finesse::client
