// What the kernel has cached after a bypassed mutation, per kind of cached state: the
// directory's attributes when the kernel never saw the name, an open file's attributes after
// its name went, and everything with timeouts 0 (where the server sends no notification
// before answering and relies on the kernel revalidating).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "attached_fs.h"

namespace finesse::testing {
namespace {

struct Case {
  FsKind fs;
  double timeout;  // entry and attribute timeout of the mount
};

class KernelCache : public ::testing::TestWithParam<Case> {
 protected:
  MountOptions options() const {
    MountOptions o;
    o.fs = GetParam().fs;
    o.entry_timeout = GetParam().timeout;
    o.attr_timeout = GetParam().timeout;
    return o;
  }
};

struct stat kernel_stat(const std::string &p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}

struct stat bypass_stat(const std::string &p) {
  struct stat st {};
  EXPECT_EQ(finesse_lstat(p.c_str(), &st), 0) << p;
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS) << p;
  return st;
}

bool kernel_sees(const std::string &p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

// The kernel caches the directory's attributes but never looked up the names created and
// removed in it: the directory itself must still be invalidated.
TEST_P(KernelCache, DirectoryAttributesWhenTheKernelNeverSawTheName) {
  AttachedFs fs(options());
  std::string dir = fs.path("d"), sub = fs.path("d/sub");
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  nlink_t before = kernel_stat(dir).st_nlink;
  ASSERT_EQ(finesse_mkdir(sub.c_str(), 0755), 0);
  ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  EXPECT_EQ(kernel_stat(dir).st_nlink, bypass_stat(dir).st_nlink) << "after bypassed mkdir";
  EXPECT_EQ(kernel_stat(dir).st_nlink, before + 1);
  ASSERT_EQ(finesse_rmdir(sub.c_str()), 0);
  EXPECT_EQ(kernel_stat(dir).st_nlink, bypass_stat(dir).st_nlink) << "after bypassed rmdir";
  EXPECT_EQ(kernel_stat(dir).st_nlink, before);
}

// A file still open through the kernel when its last name goes through the bypass.
TEST_P(KernelCache, OpenFileAfterBypassedUnlink) {
  AttachedFs fs(options());
  std::string x = fs.path("x");
  int fd = ::open(x.c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  ASSERT_EQ(st.st_nlink, 1u);
  ASSERT_EQ(finesse_unlink(x.c_str()), 0);
  ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  EXPECT_FALSE(kernel_sees(x));
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_nlink, 0u);
  ::close(fd);
}

// Names the kernel looked up, changed through the bypass, looked up again by the kernel.
TEST_P(KernelCache, NamesTheKernelKnows) {
  AttachedFs fs(options());
  std::string x = fs.path("x"), y = fs.path("y");
  for (int i = 0; i < 10; i++) {
    int fd = ::open(x.c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
    ASSERT_TRUE(kernel_sees(x));
    ASSERT_EQ(finesse_chmod(x.c_str(), 0600), 0);
    EXPECT_EQ(kernel_stat(x).st_mode, S_IFREG | 0600u) << "bypassed chmod";
    ASSERT_EQ(finesse_rename(x.c_str(), y.c_str()), 0);
    EXPECT_FALSE(kernel_sees(x)) << "bypassed rename (old name)";
    EXPECT_EQ(kernel_stat(y).st_mode, S_IFREG | 0600u) << "bypassed rename (new name)";
    ASSERT_EQ(finesse_unlink(y.c_str()), 0);
    EXPECT_FALSE(kernel_sees(y)) << "bypassed unlink";
    ASSERT_EQ(finesse_mkdir(y.c_str(), 0700), 0);
    EXPECT_EQ(kernel_stat(y).st_mode, S_IFDIR | 0700u) << "bypassed mkdir";
    ASSERT_EQ(finesse_rmdir(y.c_str()), 0);
    EXPECT_FALSE(kernel_sees(y)) << "bypassed rmdir";
    if (HasFailure()) return;
  }
}

// A kernel lookup has found the name and its reply is on its way (the hook holds it) when a
// bypassed unlink removes the name: the server cannot know yet that the kernel will hold the
// entry, and must still make the kernel drop it.
TEST_P(KernelCache, LookupInFlightDuringBypassedUnlink) {
  using namespace std::chrono_literals;
  TempDir hook;
  MountOptions o = options();
  o.env["LD_PRELOAD"] = fs_hook_lib();
  o.env["FINESSE_HOOK_SLOW_DIR"] = hook.path();
  AttachedFs fs(o);
  const std::string s = fs.path("slow");
  ASSERT_EQ(finesse_symlink("target", s.c_str()), 0);  // the kernel never saw the name
  std::thread lookup([&] { kernel_sees(s); });
  for (int i = 0; i < 10000 && ::access(hook.sub("in-lookup").c_str(), F_OK) != 0; i++)
    std::this_thread::sleep_for(1ms);
  std::atomic<bool> done{false};
  int rc = -1;
  enum finesse_route route = FINESSE_ROUTE_KERNEL;
  std::thread unlink([&] {
    rc = finesse_unlink(s.c_str());
    route = finesse_last_route();
    done = true;
  });
  // The unlink ends, or waits for the lookup to end: then let the lookup reply.
  for (int i = 0; i < 1000 && !done; i++) std::this_thread::sleep_for(1ms);
  ::close(::open(hook.sub("release").c_str(), O_CREAT | O_WRONLY, 0644));
  unlink.join();
  lookup.join();
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(route, FINESSE_ROUTE_BYPASS);
  EXPECT_FALSE(kernel_sees(s)) << "the kernel kept the entry its lookup brought back";
}

INSTANTIATE_TEST_SUITE_P(All, KernelCache,
                         ::testing::Values(Case{FsKind::kMemfs, 30}, Case{FsKind::kPassthrough, 30},
                                           Case{FsKind::kMemfs, 0}, Case{FsKind::kPassthrough, 0}),
                         [](const auto &i) {
                           return fs_name(i.param.fs) +
                                  (i.param.timeout > 0 ? "_cached" : "_uncached");
                         });

}  // namespace
}  // namespace finesse::testing
