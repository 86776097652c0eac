// Detaching a mount while clients are busy on it: no call fails, and the clients move over
// to the kernel path.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "attached_fs.h"
#include "journal_workers.h"

namespace finesse::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct ThreadLog {
  int failures = 0;
  std::string first_failure;
  std::atomic<int> bypassed{0};         // read by the main thread while running
  std::atomic<int> kernel_in_a_row{0};  // consecutive kernel-routed calls at the end
};

void record(ThreadLog *log, bool right, const std::string &what) {
  if (!right && log->failures++ == 0) log->first_failure = what + ": " + strerror(errno);
  if (finesse_last_route() == FINESSE_ROUTE_BYPASS) {
    log->bypassed++;
    log->kernel_in_a_row = 0;
  } else {
    log->kernel_in_a_row++;
  }
}

void stat_loop(const AttachedFs &fs, std::atomic<bool> *stop, ThreadLog *log) {
  struct stat st;
  while (!*stop) {
    bool right = finesse_stat(fs.path("d/f").c_str(), &st) == 0 && st.st_size == 5;
    record(log, right, "stat");
  }
}

// Mutations too: one claimed by the server when it drops its clients must still complete.
void mkdir_loop(const AttachedFs &fs, std::atomic<bool> *stop, ThreadLog *log) {
  const std::string dir = fs.path("d/m");
  while (!*stop) {
    record(log, finesse_mkdir(dir.c_str(), 0755) == 0, "mkdir");
    record(log, finesse_rmdir(dir.c_str()) == 0, "rmdir");
  }
}

class DetachUnderLoad : public ::testing::TestWithParam<FsKind> {};

TEST_P(DetachUnderLoad, CallsKeepSucceedingThroughTheKernel) {
  MountOptions o;
  o.fs = GetParam();
  AttachedFs fs(o);
  ASSERT_EQ(::mkdir(fs.path("d").c_str(), 0755), 0);
  int fd = ::open(fs.path("d/f").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "12345", 5), 5);
  ::close(fd);

  std::atomic<bool> stop{false};
  ThreadLog logs[3];
  std::vector<std::thread> threads;
  threads.emplace_back(stat_loop, std::cref(fs), &stop, &logs[0]);
  threads.emplace_back(stat_loop, std::cref(fs), &stop, &logs[1]);
  threads.emplace_back(mkdir_loop, std::cref(fs), &stop, &logs[2]);
  // Let every thread get onto the bypass first (slow under emulation: bounded, not fixed).
  auto start_deadline = Clock::now() + 10s;
  auto all_bypassed = [&] {
    for (auto &l : logs)
      if (l.bypassed == 0) return false;
    return true;
  };
  while (!all_bypassed() && Clock::now() < start_deadline) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(50ms);
  int bypassed_before[3];
  for (int i = 0; i < 3; i++) bypassed_before[i] = logs[i].bypassed;
  fs.detach();  // loader::detach + finesse_refresh_registry
  // Every thread must end up on the kernel path for good (the registry TTL bounds this).
  auto deadline = Clock::now() + 3s;
  auto all_on_kernel = [&] {
    for (auto &l : logs)
      if (l.kernel_in_a_row < 200) return false;
    return true;
  };
  while (!all_on_kernel() && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
  stop = true;
  for (auto &t : threads) t.join();

  for (int i = 0; i < 3; i++) {
    SCOPED_TRACE("thread " + std::to_string(i));
    EXPECT_EQ(logs[i].failures, 0) << logs[i].first_failure;
    EXPECT_GT(bypassed_before[i], 0) << "never bypassed before the detach";
    EXPECT_GE(logs[i].kernel_in_a_row, 200) << "still bypassed after the detach";
  }
  struct stat st;
  EXPECT_EQ(finesse_stat(fs.path("d/f").c_str(), &st), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_KERNEL);
}

// Mixed mutations across the detach: no call fails beyond what the kernel would say, and the
// tree (read through the kernel) agrees with every reported result: a mutation the server
// took when it dropped its clients was neither lost nor repeated through the kernel.
TEST_P(DetachUnderLoad, TreeAgreesWithReportedResults) {
  MountOptions o;
  o.fs = GetParam();
  AttachedFs fs(o);
  journal::Workers workers(fs.mnt(), 3, nullptr, 31);
  workers.start();
  ASSERT_TRUE(workers.each_runs(100, 10s)) << "the load did not get going";
  fs.detach();
  ASSERT_TRUE(workers.each_runs(200, 10s)) << "calls stopped returning after the detach";
  ASSERT_TRUE(workers.stop_and_wait(10s));
  journal::Verdict v = workers.check(fs.mnt(), journal::Policy{});
  EXPECT_TRUE(v.problems.empty()) << v.summary() << ::testing::PrintToString(v.problems);
  EXPECT_GT(v.bypassed, 0u) << v.summary();
  RecordProperty("journal", v.summary());
}

INSTANTIATE_TEST_SUITE_P(All, DetachUnderLoad,
                         ::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                         [](const auto &i) { return fs_name(i.param); });

}  // namespace
}  // namespace finesse::testing
