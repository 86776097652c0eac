// Bypass and kernel-path mutations of the same names, alternated, with every read checked
// both ways: neither path may answer from a stale cache (default kernel caching on).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "attached_fs.h"

namespace finesse::testing {
namespace {

class Coherence : public ::testing::TestWithParam<FsKind> {};

// Both paths agree that p exists with mode m (m == 0: does not exist).
void expect_both(const std::string &p, mode_t m, const char *step) {
  struct stat k {}, b {};
  int rk = ::lstat(p.c_str(), &k);
  int rb = finesse_lstat(p.c_str(), &b);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS) << step;
  if (m == 0) {
    EXPECT_EQ(rk, -1) << step << ": kernel still sees " << p;
    EXPECT_EQ(rb, -1) << step << ": bypass still sees " << p;
    return;
  }
  ASSERT_EQ(rk, 0) << step << ": kernel misses " << p;
  ASSERT_EQ(rb, 0) << step << ": bypass misses " << p;
  EXPECT_EQ(k.st_mode, m) << step << " (kernel)";
  EXPECT_EQ(b.st_mode, m) << step << " (bypass)";
  EXPECT_EQ(k.st_size, b.st_size) << step;
  EXPECT_EQ(k.st_nlink, b.st_nlink) << step;
}

TEST_P(Coherence, AlternatingMutations) {
  MountOptions o;
  o.fs = GetParam();
  o.entry_timeout = 30;  // long kernel caching: only invalidation can keep it right
  o.attr_timeout = 30;
  AttachedFs fs(o);
  for (int i = 0; i < 30; i++) {
    std::string x = fs.path("x" + std::to_string(i % 3)), y = fs.path("y");
    expect_both(x, 0, "start");
    int fd = ::open(x.c_str(), O_CREAT | O_WRONLY, 0644);  // kernel create
    ASSERT_GE(fd, 0);
    ::close(fd);
    expect_both(x, S_IFREG | 0644, "kernel create");
    ASSERT_EQ(finesse_truncate(x.c_str(), 10 + i), 0);  // bypass setattr
    expect_both(x, S_IFREG | 0644, "bypass truncate");
    ASSERT_EQ(::chmod(x.c_str(), 0600), 0);  // kernel setattr
    expect_both(x, S_IFREG | 0600, "kernel chmod");
    ASSERT_EQ(finesse_chmod(x.c_str(), 0640), 0);  // bypass setattr
    expect_both(x, S_IFREG | 0640, "bypass chmod");
    ASSERT_EQ(finesse_link(x.c_str(), y.c_str()), 0);  // bypass link: nlink 2 both ways
    expect_both(x, S_IFREG | 0640, "bypass link");
    ASSERT_EQ(::unlink(y.c_str()), 0);  // kernel unlink
    expect_both(y, 0, "kernel unlink");
    expect_both(x, S_IFREG | 0640, "kernel unlink (nlink)");
    ASSERT_EQ(finesse_rename(x.c_str(), y.c_str()), 0);  // bypass rename
    expect_both(x, 0, "bypass rename (old name)");
    expect_both(y, S_IFREG | 0640, "bypass rename (new name)");
    ASSERT_EQ(finesse_unlink(y.c_str()), 0);  // bypass unlink
    expect_both(y, 0, "bypass unlink");
    ASSERT_EQ(::mkdir(x.c_str(), 0755), 0);  // kernel mkdir
    expect_both(x, S_IFDIR | 0755, "kernel mkdir");
    ASSERT_EQ(finesse_rmdir(x.c_str()), 0);  // bypass rmdir
    expect_both(x, 0, "bypass rmdir");
    ASSERT_EQ(finesse_mkdir(x.c_str(), 0700), 0);  // bypass mkdir
    expect_both(x, S_IFDIR | 0700, "bypass mkdir");
    ASSERT_EQ(::rename(x.c_str(), y.c_str()), 0);  // kernel rename
    expect_both(x, 0, "kernel rename (old name)");
    expect_both(y, S_IFDIR | 0700, "kernel rename (new name)");
    ASSERT_EQ(::rmdir(y.c_str()), 0);  // kernel rmdir
    expect_both(y, 0, "kernel rmdir");
    if (HasFatalFailure() || HasNonfatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(All, Coherence, ::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                         [](const auto &i) { return fs_name(i.param); });

}  // namespace
}  // namespace finesse::testing
