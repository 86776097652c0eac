// The shim uses the kernel's facts (finesse_track's fds/cwds maps) for what it did not see
// itself: an fd set up by the shell before exec, one inherited over fork, a cwd set before
// exec. The server's counters prove the bypass; the output equals a kernel run's. Then the
// share of metadata calls that `find -exec stat` and `rm -rf` bypass over 10,000 files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "attached_fs.h"
#include "shim_util.h"

namespace finesse::testing {
namespace {

std::string helper() {
  return bin_dir() + "/finesse-shim-fdstat";
}

// Runs `sh -c script` with and without the shim (LD_PRELOAD set only for the helper's exec):
// same output; returns how many calls the server served for the shim run. The helper's first
// two calls on the mount take the kernel path (the first talks to no server, the second
// starts the handshake: channel.h): the counts below are the helper's calls less those two.
uint64_t served_by_shim_run(AttachedFs &fs, const std::string &script) {
  std::map<std::string, std::string> env = {{"H", helper()}, {"P", preload_lib()}};
  uint64_t s0 = fs.served_total();
  CommandResult ra = run_command({"/bin/sh", "-c", "export LD_PRELOAD=\"$P\"; " + script}, env);
  uint64_t s1 = fs.served_total();
  CommandResult rb = run_command({"/bin/sh", "-c", script}, env);
  EXPECT_EQ(ra.status, 0) << ra.err;
  EXPECT_EQ(rb.status, 0) << rb.err;
  EXPECT_EQ(diff_lines(ra.out, rb.out), 0) << ra.out;
  EXPECT_EQ(fs.served_total(), s1) << "the kernel run must not use the bypass";
  return s1 - s0;
}

class ShimFacts : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(mkdir(fs_.path("d").c_str(), 0755), 0);
    for (const char *f : {"d/f", "f"}) {
      int fd = open(fs_.path(f).c_str(), O_CREAT | O_WRONLY, 0640);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(write(fd, "hello", 5), 5);
      close(fd);
    }
  }
  // Timeouts 0: the kernel caches no attributes, so fstat is bypassed too (where it does, the
  // kernel's fstat is the cheaper one: FdCalls.FstatIsTheKernelsWhereItCachesAttributes).
  static MountOptions uncached() {
    MountOptions o;
    o.entry_timeout = 0;
    o.attr_timeout = 0;
    return o;
  }
  AttachedFs fs_{uncached()};
};

TEST_F(ShimFacts, FstatOfAnFdOpenedByTheShell) {
  uint64_t n = served_by_shim_run(fs_, "exec 3<'" + fs_.path("f") + "'; exec \"$H\" fd3");
  EXPECT_GE(n, 1u);  // fstat, fstatat(AT_EMPTY_PATH) (kernel: the first two), fstat
}

TEST_F(ShimFacts, FdCallsOnAnFdOpenedByTheShell) {
  uint64_t n = served_by_shim_run(fs_, "exec 3<>'" + fs_.path("f") + "'; exec \"$H\" fdops");
  // fchmod, fchown, ftruncate, futimens, fgetxattr (ENODATA), fstatfs, fstatvfs, 3 fstats,
  // less the first two
  EXPECT_GE(n, 8u);
}

TEST_F(ShimFacts, DirfdOpenedByTheShell) {
  uint64_t n = served_by_shim_run(fs_, "exec 3<'" + fs_.path("d") + "'; exec \"$H\" fd3 f");
  EXPECT_GE(n, 3u);  // 3 on the directory itself, its child, a missing child; less the first two
}

TEST_F(ShimFacts, DirfdInheritedOverFork) {
  uint64_t n = served_by_shim_run(fs_, "exec 3<'" + fs_.path("d") + "'; exec \"$H\" fork f");
  EXPECT_GE(n, 3u);
}

TEST_F(ShimFacts, CwdSetBeforeExec) {
  uint64_t n = served_by_shim_run(fs_, "cd '" + fs_.path("d") + "' && exec \"$H\" cwd f");
  EXPECT_GE(n, 1u);  // of 4
}

// Sum of bypassed and fell_back over every op of our mount from `finesse-loader stats --json`.
bool loader_totals(const std::string &mnt, uint64_t *bypassed, uint64_t *fell_back) {
  CommandResult r = run_command({bin_dir() + "/finesse-loader", "stats", "--json"});
  if (r.status != 0) return false;
  nlohmann::json all = nlohmann::json::parse(r.out, nullptr, false);
  if (all.is_discarded()) return false;
  for (const auto &m : all) {
    if (m["mount"] != mnt) continue;
    *bypassed = *fell_back = 0;
    for (const auto &[op, v] : m["ops"].items()) {
      *bypassed += v["bypassed"].get<uint64_t>();
      *fell_back += v["fell_back"].get<uint64_t>();
    }
    return true;
  }
  return false;
}

double bypassed_share(AttachedFs &fs, const std::string &script, const char *what) {
  uint64_t b0 = 0, f0 = 0, b1 = 0, f1 = 0;
  EXPECT_TRUE(loader_totals(fs.mnt(), &b0, &f0));
  // bash, not sh: busybox's sh (the VM tests' /bin/sh) runs find and rm as its own static
  // applets, which no preload reaches.
  CommandResult r = run_command({"/bin/bash", "-c", script}, with_shim(), fs.mnt());
  EXPECT_EQ(r.status, 0) << r.err.substr(0, 2000);
  EXPECT_TRUE(loader_totals(fs.mnt(), &b1, &f1));
  uint64_t b = b1 - b0, f = f1 - f0;
  double share = b + f == 0 ? 0.0 : static_cast<double>(b) / static_cast<double>(b + f);
  fprintf(stderr, "%s: %llu bypassed, %llu fell back: %.1f%% bypassed\n", what,
          static_cast<unsigned long long>(b), static_cast<unsigned long long>(f), 100 * share);
  ::testing::Test::RecordProperty(std::string(what) + "_bypassed_pct", std::to_string(100 * share));
  return share;
}

TEST(ShimFactsShare, FindStatAndRmRfOverTenThousandFiles) {
  AttachedFs fs(MountOptions{});
  std::string root = fs.path("tree");
  ASSERT_EQ(mkdir(root.c_str(), 0755), 0);
  for (int d = 0; d < 100; d++) {
    std::string dir = root + "/d" + std::to_string(d);
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    for (int f = 0; f < 100; f++) {
      int fd = creat((dir + "/f" + std::to_string(f)).c_str(), 0644);
      ASSERT_GE(fd, 0);
      close(fd);
    }
  }
  double find_share =
      bypassed_share(fs, "find tree -type f -exec stat -c %s {} + > /dev/null", "find_exec_stat");
  double rm_share = bypassed_share(fs, "rm -rf tree", "rm_rf");
  EXPECT_GT(find_share, 0.5);
  EXPECT_GT(rm_share, 0.5);
  struct stat st;
  EXPECT_NE(stat(root.c_str(), &st), 0);
}

}  // namespace
}  // namespace finesse::testing
