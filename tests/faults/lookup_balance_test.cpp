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
#include "proc_stats.h"

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

// The server's cache is bounded (FINESSE_SERVER_CACHE_ENTRIES): a walk over many more names
// than the bound returns the lookups of what it evicts, so a passthrough daemon keeps a
// bounded number of fds, and the cache goes on caching.
constexpr int kBound = 64;
constexpr int kFiles = 1500;

MountOptions bounded(FsKind fs) {
  MountOptions o;
  o.fs = fs;
  o.env["FINESSE_SERVER_CACHE_ENTRIES"] = std::to_string(kBound);
  // No entry expires during a walk: a re-lookup of an expired name adds a second lookup to
  // the same cached node (rightly: each is forgotten), and on a slow machine the walks then
  // held more lookups than the bound has entries.
  o.entry_timeout = o.attr_timeout = 3600;
  return o;
}

uint64_t stats_served(const AttachedFs &fs) {
  return fs.stats().served[static_cast<int>(wire::Op::kStat)];
}

class BoundedCache : public LookupBalance {
 protected:
  void SetUp() override {}
};

TEST_F(BoundedCache, PassthroughFdsStayBoundedOverALongWalk) {
  fs_ = std::make_unique<AttachedFs>(bounded(FsKind::kPassthrough));
  const std::string src = fs_->fs().source();
  for (int i = 0; i < kFiles; i++) std::ofstream(src + "/f" + std::to_string(i)) << "x";
  const pid_t daemon = fs_->fs().daemon_pid();
  struct stat st;
  ok(finesse_stat(fs_->mnt().c_str(), &st), "stat /");  // connected: the server has our fds
  const int fds_before = open_fd_count(daemon);
  for (int i = 0; i < kFiles; i++) {
    std::string f = "f" + std::to_string(i);
    ok(finesse_stat(p(f).c_str(), &st), "stat " + f);
    if (HasFatalFailure()) return;
  }
  const int fds_after = open_fd_count(daemon);
  EXPECT_LE(fds_after, fds_before + kBound + 8)
      << "the daemon holds an fd per inode the server keeps a lookup on";
  EXPECT_LE(fs_->stats().lookups_held, static_cast<uint64_t>(kBound));
  // The cache still caches: the names walked last are answered without new lookups.
  for (int round = 0; round < 2; round++) {
    const uint64_t held = fs_->stats().lookups_held, served = stats_served(*fs_);
    for (int i = kFiles - 8; i < kFiles; i++) {
      std::string f = "f" + std::to_string(i);
      ok(finesse_stat(p(f).c_str(), &st), "stat " + f);
    }
    EXPECT_EQ(stats_served(*fs_), served + 8);
    EXPECT_EQ(fs_->stats().lookups_held, held) << "round " << round << ": looked up again";
  }
  // Everything held is given back: the daemon's fds return to where they were.
  ASSERT_EQ(fs_->control(control::Op::kFlush), 0);
  EXPECT_EQ(fs_->stats().lookups_held, 0u);
  // (The control connections of the calls above close asynchronously in the server.)
  int fds = open_fd_count(daemon);
  for (auto deadline = Clock::now() + 3s; fds > fds_before && Clock::now() < deadline;) {
    std::this_thread::sleep_for(10ms);
    fds = open_fd_count(daemon);
  }
  EXPECT_LE(fds, fds_before);
}

TEST_F(BoundedCache, MemfsLookupsBalanceOverALongWalk) {
  fs_ = std::make_unique<AttachedFs>(bounded(FsKind::kMemfs));
  ASSERT_TRUE(settles_at(0)) << nlookup();
  ok(finesse_mkdir(p("d").c_str(), 0755), "mkdir d");
  struct stat st;
  for (int i = 0; i < kFiles; i++) {
    std::string l = "d/l" + std::to_string(i);
    ok(finesse_symlink("target", p(l).c_str()), "symlink " + l);
    if (HasFatalFailure()) return;
  }
  for (int i = 0; i < kFiles; i += 3) {
    std::string l = "d/l" + std::to_string(i);
    ok(finesse_lstat(p(l).c_str(), &st), "lstat " + l);
    if (HasFatalFailure()) return;
  }
  const uint64_t held = fs_->stats().lookups_held;
  EXPECT_LE(held, static_cast<uint64_t>(kBound));
  EXPECT_TRUE(settles_at(static_cast<long>(held)))
      << "the file system counts " << nlookup() << ", the server says it holds " << held;
  ASSERT_EQ(fs_->control(control::Op::kFlush), 0);
  EXPECT_TRUE(settles_at(0)) << nlookup();
}

}  // namespace
}  // namespace finesse::testing
