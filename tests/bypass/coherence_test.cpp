// Bypass and kernel-path mutations of the same names, alternated, with every read checked
// both ways: neither path may answer from a stale cache (default kernel caching on).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <set>
#include <thread>

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

// Names in a directory, read through the kernel (readdir always asks the file system).
std::set<std::string> names_in(const std::string &dir) {
  std::set<std::string> names;
  if (DIR *d = ::opendir(dir.c_str())) {
    while (dirent *e = ::readdir(d))
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.insert(e->d_name);
    ::closedir(d);
  }
  return names;
}

// mv a b/x (bypass) against mv b a/y (kernel): the kernel serialises cross-directory renames
// with s_vfs_rename_mutex and checks ancestry under it; a bypassed one racing with it must
// not move a directory below itself (a cycle cut off from the root). The hook delays the
// file system's rename of b, after the kernel's check, to make the race likely.
TEST_P(Coherence, CrossDirectoryRenamesMakeNoCycle) {
  MountOptions o;
  o.fs = GetParam();
  o.env["LD_PRELOAD"] = fs_hook_lib();
  o.env["FINESSE_HOOK_SLOW_RENAME"] = "b";
  AttachedFs fs(o);
  const std::string a = fs.path("a"), b = fs.path("b"), bx = fs.path("b/x"), ay = fs.path("a/y");
  ASSERT_EQ(::mkdir(a.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(b.c_str(), 0755), 0);
  std::atomic<bool> stop{false};
  std::thread kernel([&] {
    while (!stop.load()) {
      ::rename(b.c_str(), ay.c_str());
      ::rename(ay.c_str(), b.c_str());
    }
  });
  for (int i = 0; i < 1000; i++) {
    finesse_rename(a.c_str(), bx.c_str());
    finesse_rename(bx.c_str(), a.c_str());
  }
  stop = true;
  kernel.join();
  EXPECT_EQ(fs.fs().daemon_stderr().find("fs_hook:"), std::string::npos) << fs.fs().daemon_stderr();
  // Without a cycle one of them is still in the root, and the other in it or in the root.
  std::set<std::string> root = names_in(fs.mnt());
  ASSERT_TRUE(root.count("a") || root.count("b"))
      << "neither a nor b is reachable from the root: they form a cycle";
  if (!root.count("a")) {
    EXPECT_EQ(names_in(b), std::set<std::string>{"x"});
  }
  if (!root.count("b")) {
    EXPECT_EQ(names_in(a), std::set<std::string>{"y"});
  }
}

// A single-threaded file system that runs its own fuse_session_receive_buf /
// fuse_session_process_buf loop (not fuse_session_loop) is not thread-safe: the hook reports
// when two of its lookup/getattr calls overlap. Bypass calls and kernel requests
// under load from both paths must never overlap.
TEST(OwnLoop, BypassCallsWaitForTheFileSystemsOwnLoop) {
  MountOptions o;
  o.single_threaded = true;
  o.entry_timeout = 0;  // every call reaches the file system
  o.attr_timeout = 0;
  o.env["LD_PRELOAD"] = fs_hook_lib();
  o.env["FINESSE_HOOK_OWN_LOOP"] = "1";
  o.env["FINESSE_HOOK_NO_REENTRY"] = "1";
  AttachedFs fs(o);
  for (int i = 0; i < 4; i++)
    ::close(::open(fs.path("f" + std::to_string(i)).c_str(), O_CREAT | O_WRONLY, 0644));
  std::atomic<bool> stop{false};
  std::thread kernel([&] {
    struct stat st;
    for (int i = 0; !stop.load(); i++) ::lstat(fs.path("f" + std::to_string(i % 4)).c_str(), &st);
  });
  int bypassed = 0;
  for (int i = 0; i < 3000; i++) {
    struct stat st;
    if (finesse_lstat(fs.path("f" + std::to_string(i % 4)).c_str(), &st) == 0 &&
        finesse_last_route() == FINESSE_ROUTE_BYPASS)
      bypassed++;
  }
  stop = true;
  kernel.join();
  EXPECT_EQ(fs.fs().daemon_stderr().find("fs_hook:"), std::string::npos) << fs.fs().daemon_stderr();
  EXPECT_GT(bypassed, 0);
}

INSTANTIATE_TEST_SUITE_P(All, Coherence, ::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                         [](const auto &i) { return fs_name(i.param); });

}  // namespace
}  // namespace finesse::testing
