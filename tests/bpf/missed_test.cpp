// The missed-bypass counters: metadata syscalls that reach an attached mount through the
// kernel (plain tools, no preload) are counted by mount and operation.
#include <fcntl.h>
#include <unistd.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "attached_fs.h"
#include "track_util.h"

namespace finesse::testing {
namespace {

class Missed : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_unique<AttachedFs>(MountOptions{});
    mnt_id_ = mount_id_of(fs_->mnt());
    ASSERT_EQ(::mkdir(fs_->path("d").c_str(), 0755), 0);
    // Counting is off unless asked for (it costs every process); the tests holding the
    // finesse_missed_counting resource lock switch it on and off.
    loader::Outcome o = loader::missed(true);
    ASSERT_EQ(o.code, loader::kOk) << o.message;
  }
  void TearDown() override { loader::missed(false); }
  uint64_t count(wire::Op op) const { return missed_count(mnt_id_, op); }
  void run_ok(const std::vector<std::string> &argv, const std::string &cwd = "") {
    CommandResult r = run_command(argv, {}, cwd);
    ASSERT_EQ(r.status, 0) << argv[0] << ": " << r.err;
  }

  std::unique_ptr<AttachedFs> fs_;
  uint64_t mnt_id_ = 0;
};

// The counting programs run on every stat of every process: they are there only while on.
TEST_F(Missed, CountedOnlyWhileCountingIsOn) {
  ASSERT_EQ(loader::missed(false).code, loader::kOk);
  EXPECT_FALSE(loader::missed_counting());
  uint64_t before = count(wire::Op::kStat);
  run_ok({"stat", fs_->path("d")});
  EXPECT_EQ(count(wire::Op::kStat), before);
  for (const auto &p : loader::pinned_programs())
    EXPECT_NE(p.name.rfind(FINESSE_MISSED_PROG_PREFIX, 0), 0u) << p.name << " attached while off";
  ASSERT_EQ(loader::missed(true).code, loader::kOk);
  EXPECT_TRUE(loader::missed_counting());
  ASSERT_EQ(loader::missed(true).code, loader::kOk);  // idempotent: one set of programs
  run_ok({"stat", fs_->path("d")});
  EXPECT_GE(count(wire::Op::kStat), before + 1);
}

TEST_F(Missed, PlainStatByAbsolutePathCounts) {
  uint64_t before = count(wire::Op::kStat);
  run_ok({"stat", fs_->path("d")});
  EXPECT_GE(count(wire::Op::kStat), before + 1);
}

TEST_F(Missed, RelativePathsCountAgainstTheCwdsMount) {
  uint64_t stat0 = count(wire::Op::kStat), mkdir0 = count(wire::Op::kMkdir);
  uint64_t unlink0 = count(wire::Op::kUnlink), rmdir0 = count(wire::Op::kRmdir);
  uint64_t rename0 = count(wire::Op::kRename), setattr0 = count(wire::Op::kSetattr);
  run_ok({"stat", "d"}, fs_->mnt());
  run_ok({"mkdir", "e"}, fs_->mnt());
  run_ok({"touch", "e/x"}, fs_->mnt());
  run_ok({"chmod", "600", "e/x"}, fs_->mnt());
  run_ok({"mv", "e/x", "e/y"}, fs_->mnt());
  run_ok({"rm", "e/y"}, fs_->mnt());
  run_ok({"rmdir", "e"}, fs_->mnt());
  EXPECT_GE(count(wire::Op::kStat), stat0 + 1);
  EXPECT_GE(count(wire::Op::kMkdir), mkdir0 + 1);
  EXPECT_GE(count(wire::Op::kSetattr), setattr0 + 1);
  EXPECT_GE(count(wire::Op::kRename), rename0 + 1);
  EXPECT_GE(count(wire::Op::kUnlink), unlink0 + 1);
  EXPECT_GE(count(wire::Op::kRmdir), rmdir0 + 1);
}

TEST_F(Missed, FdBasedCallsCountByTheFdsMount) {
  uint64_t stat0 = count(wire::Op::kStat), statfs0 = count(wire::Op::kStatfs);
  // An fstat of an fd on the mount (opened here: no tool's habits involved; glibc makes it a
  // newfstatat(fd, "", AT_EMPTY_PATH)), and statfs on the path by stat -f.
  int fd = ::open(fs_->path("f").c_str(), O_CREAT | O_RDONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  ::close(fd);
  run_ok({"sh", "-c", "stat -f \"$0\" >/dev/null", fs_->path("f")});
  EXPECT_GE(count(wire::Op::kStat), stat0 + 1);
  EXPECT_GE(count(wire::Op::kStatfs), statfs0 + 1);
}

TEST_F(Missed, CallsOutsideTheMountDoNotCount) {
  TempDir elsewhere;
  uint64_t before = count(wire::Op::kStat);
  // A sibling of the mount point whose name extends the mount path is not on it.
  std::string sibling = fs_->mnt() + "x";
  run_ok({"stat", elsewhere.path()});
  run_command({"stat", sibling});
  EXPECT_EQ(count(wire::Op::kStat), before);
}

// Every shim process checks that each attached mount still lies at its path; that check is
// not an application's call and must not count (it did, as a stat of the mount point, once
// per shim process: under a parallel test run this mount gathered other tests' checks).
TEST_F(Missed, TheShimsOwnMountChecksDoNotCount) {
  TempDir elsewhere;
  uint64_t before = count(wire::Op::kStat);
  CommandResult r = run_command({"stat", elsewhere.path()},
                                {{"LD_PRELOAD", lib_dir() + "/libfinesse_preload.so"}});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count(wire::Op::kStat), before);
}

}  // namespace
}  // namespace finesse::testing
