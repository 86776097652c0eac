// A daemon SIGKILLed while clients are mid-call: every call returns within a bound, with
// either the right answer or the error the kernel gives for a dead FUSE mount, and the
// harness still cleans up the dead mount.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "attached_fs.h"
#include "journal_workers.h"

namespace finesse::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr off_t kFileSize = 5;
constexpr int kThreads = 4;

// What the kernel answers on a FUSE mount whose daemon died: ENOTCONN for a request made
// after the connection was aborted (checked by DeadMountErrno), ECONNABORTED for one that was
// in flight at that moment (fs/fuse/dev.c, end_requests).
bool dead_mount_errno(int e) {
  return e == ENOTCONN || e == ECONNABORTED;
}

struct Tally {
  std::atomic<bool> stop{false};
  std::atomic<bool> killed{false};
  std::mutex mu;
  std::vector<std::string> wrong;  // answers that are neither right nor a dead-mount error
  Clock::duration slowest{};
  int bypassed_before_kill = 0;
  int failed_after_kill = 0;

  void note(const char *what, Clock::duration took, bool right, int err, bool bypassed) {
    std::lock_guard<std::mutex> g(mu);
    slowest = std::max(slowest, took);
    if (right) {
      if (bypassed && !killed) bypassed_before_kill++;
      return;
    }
    if (dead_mount_errno(err) && killed) {
      failed_after_kill++;
      return;
    }
    if (wrong.size() < 20)
      wrong.push_back(std::string(what) + ": " + strerror(err) + (killed ? " (after kill)" : ""));
  }
};

// One client thread: stat of a file whose size is known, mkdir/rmdir of its own name.
void client_loop(const AttachedFs &fs, int id, Tally *t) {
  const std::string file = fs.path("f");
  const std::string dir = fs.path("t" + std::to_string(id));
  struct stat st;
  while (!t->stop) {
    auto start = Clock::now();
    int rc = finesse_stat(file.c_str(), &st);
    int err = errno;
    t->note("stat", Clock::now() - start, rc == 0 && st.st_size == kFileSize, err,
            finesse_last_route() == FINESSE_ROUTE_BYPASS);
    start = Clock::now();
    rc = finesse_mkdir(dir.c_str(), 0755);
    err = errno;
    t->note("mkdir", Clock::now() - start, rc == 0, err,
            finesse_last_route() == FINESSE_ROUTE_BYPASS);
    start = Clock::now();
    rc = finesse_rmdir(dir.c_str());
    err = errno;
    t->note("rmdir", Clock::now() - start, rc == 0, err,
            finesse_last_route() == FINESSE_ROUTE_BYPASS);
  }
}

void write_file(const std::string &path) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << strerror(errno);
  ASSERT_EQ(::write(fd, "12345", kFileSize), kFileSize);
  ::close(fd);
}

class DaemonKill : public ::testing::TestWithParam<FsKind> {};

TEST_P(DaemonKill, DeadMountErrno) {
  // The reference: what the kernel path itself says once the daemon is gone.
  MountOptions o;
  o.fs = GetParam();
  MountedFs fs(o);
  ASSERT_EQ(::kill(fs.daemon_pid(), SIGKILL), 0);
  for (auto deadline = Clock::now() + 2s; fs.daemon_alive() && Clock::now() < deadline;)
    std::this_thread::sleep_for(5ms);
  struct stat st;
  errno = 0;
  EXPECT_EQ(::stat(fs.path("nothing").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOTCONN) << strerror(errno);
  EXPECT_EQ(::mkdir(fs.path("d").c_str(), 0755), -1);
  EXPECT_EQ(errno, ENOTCONN) << strerror(errno);
}

TEST_P(DaemonKill, CallsInFlightEndBoundedAndRight) {
  MountOptions o;
  o.fs = GetParam();
  AttachedFs fs(o);
  write_file(fs.path("f"));
  struct stat st;
  ASSERT_EQ(finesse_stat(fs.path("f").c_str(), &st), 0);
  ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS) << "the load must start on the bypass";
  Tally tally;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; i++) threads.emplace_back(client_loop, std::cref(fs), i, &tally);
  std::this_thread::sleep_for(300ms);
  tally.killed = true;  // set first: a failure seen after this may be the kill's
  ASSERT_EQ(::kill(fs.fs().daemon_pid(), SIGKILL), 0);
  std::this_thread::sleep_for(300ms);  // the clients meet the dead server
  tally.stop = true;
  for (auto &t : threads) t.join();

  EXPECT_TRUE(tally.wrong.empty()) << ::testing::PrintToString(tally.wrong);
  EXPECT_LT(tally.slowest, 1s)
      << "slowest call: "
      << std::chrono::duration_cast<std::chrono::milliseconds>(tally.slowest).count() << " ms";
  EXPECT_GT(tally.bypassed_before_kill, 0) << "the load never went over the bypass";
  EXPECT_GE(tally.failed_after_kill, kThreads) << "the clients never met the dead daemon";

  int status = fs.fs().stop();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_FALSE(is_mounted(fs.mnt())) << "the harness left the dead mount behind";
}

// Mixed mutations under the kill, checked against the source directory (which outlives the
// daemon): every reported success happened once, every reported failure is what the kernel
// would say, and the calls the kill cut off happened at most once.
TEST(DaemonKillJournal, SourceTreeAgreesWithReportedResults) {
  MountOptions o;
  o.fs = FsKind::kPassthrough;
  AttachedFs fs(o);
  std::atomic<bool> killed{false};
  journal::Workers workers(fs.mnt(), kThreads, &killed, 7);
  workers.start();
  ASSERT_TRUE(workers.each_runs(300, 10s)) << "the load did not get going";
  killed = true;  // set first: an error seen after this may be the kill's
  ASSERT_EQ(::kill(fs.fs().daemon_pid(), SIGKILL), 0);
  ASSERT_TRUE(workers.each_runs(20, 10s)) << "calls did not get past the dead daemon";
  ASSERT_TRUE(workers.stop_and_wait(10s));

  journal::Policy policy{{ENOTCONN, ECONNABORTED}};
  policy.fault_ends_the_daemon = true;
  journal::Verdict v = workers.check(fs.fs().source(), policy);
  EXPECT_TRUE(v.problems.empty()) << v.summary() << ::testing::PrintToString(v.problems);
  EXPECT_GT(v.bypassed, 0u) << v.summary();
  EXPECT_GE(v.unknown, static_cast<size_t>(kThreads))
      << "nobody met the dead daemon: " << v.summary();
  RecordProperty("journal", v.summary());
  fs.fs().stop();
}

INSTANTIATE_TEST_SUITE_P(All, DaemonKill, ::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                         [](const auto &i) { return fs_name(i.param); });

}  // namespace
}  // namespace finesse::testing
