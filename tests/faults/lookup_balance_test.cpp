// The lookups the server takes on the file system for bypassed calls are all given back:
// memfs's debug attribute user.finesse.nlookup (sum of every inode's lookup count, read
// through the kernel) returns to what the kernel alone holds once the server flushes.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "attached_fs.h"

namespace finesse::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class LookupBalance : public ::testing::Test {
 protected:
  void SetUp() override { fs_ = std::make_unique<AttachedFs>(MountOptions{}); }

  long nlookup() {
    char buf[32] = {};
    ssize_t n = ::getxattr(fs_->mnt().c_str(), "user.finesse.nlookup", buf, sizeof(buf) - 1);
    if (n < 0) {
      ADD_FAILURE() << "getxattr user.finesse.nlookup: " << strerror(errno);
      return -1;
    }
    return std::stol(std::string(buf, static_cast<size_t>(n)));
  }
  // The kernel forgets what it holds once its dentry and inode caches are dropped; FORGETs
  // arrive asynchronously, so poll.
  bool settles_at(long expected) {
    for (auto deadline = Clock::now() + 3s; nlookup() != expected;) {
      if (Clock::now() > deadline) return false;
      sync();
      std::ofstream("/proc/sys/vm/drop_caches") << "2\n";
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }
  std::string p(const std::string &rel) { return fs_->path(rel); }
  // A bypassed call that must succeed.
  void ok(int rc, const std::string &what) {
    ASSERT_EQ(rc, 0) << what << ": " << strerror(errno);
    ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS) << what;
  }

  std::unique_ptr<AttachedFs> fs_;
};

TEST_F(LookupBalance, FlushGivesBackEveryServerLookup) {
  ASSERT_TRUE(settles_at(0)) << "a fresh memfs holds no lookups but the root's: " << nlookup();
  // A small tree, built, walked and partly removed over the bypass (a few hundred calls).
  struct stat st;
  for (int i = 0; i < 4; i++) {
    std::string d = "d" + std::to_string(i);
    ok(finesse_mkdir(p(d).c_str(), 0755), "mkdir " + d);
    for (int j = 0; j < 6; j++) {
      std::string s = d + "/s" + std::to_string(j);
      ok(finesse_mkdir(p(s).c_str(), 0755), "mkdir " + s);
      ok(finesse_symlink("target", p(s + "/l").c_str()), "symlink " + s + "/l");
    }
  }
  for (int round = 0; round < 4; round++)
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 6; j++) {
        std::string s = "d" + std::to_string(i) + "/s" + std::to_string(j);
        ok(finesse_stat(p(s).c_str(), &st), "stat " + s);
        ok(finesse_lstat(p(s + "/l").c_str(), &st), "lstat " + s + "/l");
      }
  // Remove half: unlinked and removed inodes must be forgotten too.
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 3; j++) {
      std::string s = "d" + std::to_string(i) + "/s" + std::to_string(j);
      ok(finesse_unlink(p(s + "/l").c_str()), "unlink " + s + "/l");
      ok(finesse_rmdir(p(s).c_str()), "rmdir " + s);
    }
  // Some of the same names through the kernel as well: its lookups are its own.
  for (int i = 0; i < 4; i++)
    ASSERT_EQ(::stat(p("d" + std::to_string(i) + "/s5/l").c_str(), &st),
              -1);  // dangling symlink, followed

  // Before the flush: exactly the server's lookups remain once the kernel forgot its own.
  const uint64_t held = fs_->stats().lookups_held;
  EXPECT_GT(held, 0u) << "the server caches what it looked up";
  EXPECT_TRUE(settles_at(static_cast<long>(held)))
      << "the file system counts " << nlookup() << ", the server says it holds " << held;

  ASSERT_EQ(fs_->control(control::Op::kFlush), 0);
  EXPECT_EQ(fs_->stats().lookups_held, 0u);
  EXPECT_TRUE(settles_at(0)) << "after flush the tree still exists but nobody holds it: "
                             << nlookup();

  // Lookups taken again after a flush are balanced just the same; so is removing the rest.
  for (int i = 0; i < 4; i++)
    for (int j = 3; j < 6; j++) {
      std::string s = "d" + std::to_string(i) + "/s" + std::to_string(j);
      ok(finesse_unlink(p(s + "/l").c_str()), "unlink " + s + "/l");
      ok(finesse_rmdir(p(s).c_str()), "rmdir " + s);
    }
  for (int i = 0; i < 4; i++) ok(finesse_rmdir(p("d" + std::to_string(i)).c_str()), "rmdir d");
  ASSERT_EQ(fs_->control(control::Op::kFlush), 0);
  EXPECT_TRUE(settles_at(0)) << nlookup();
}

}  // namespace
}  // namespace finesse::testing
