// A daemon stopped (SIGSTOP) under load, then continued (or killed): clients must not wait for it
// forever on the bypass (an unclaimed request is withdrawn after FINESSE_SERVER_TIMEOUT_MS and
// goes to the kernel, which waits for the daemon as it always does), and once the daemon runs
// again every call completes with the right result and nothing is done twice.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "attached_fs.h"
#include "journal_workers.h"

namespace finesse::testing {
namespace {

using namespace std::chrono_literals;

// Read once per process by the client, before any test runs.
const bool kShortServerTimeout = setenv("FINESSE_SERVER_TIMEOUT_MS", "200", 1) == 0;

constexpr int kThreads = 4;

// Sends SIGCONT on every way out, so that a failed assertion leaves no stopped daemon.
struct Continue {
  pid_t pid;
  ~Continue() { ::kill(pid, SIGCONT); }
};

// Whether every thread of `pid` is in the stopped state (SIGSTOP lands asynchronously).
bool all_threads_stopped(pid_t pid) {
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(1ms)) {
    bool all = true;
    std::string dir = "/proc/" + std::to_string(pid) + "/task";
    DIR *d = opendir(dir.c_str());
    if (d == nullptr) return false;
    while (dirent *e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream in(dir + "/" + e->d_name + "/stat");
      std::string line;
      std::getline(in, line);
      size_t paren = line.rfind(')');
      if (paren == std::string::npos || line.size() < paren + 3 || line[paren + 2] != 'T')
        all = false;
    }
    closedir(d);
    if (all) return true;
  }
  return false;
}

// Whether thread `tid` of this process sleeps in the kernel waiting for a FUSE request's
// answer (its wchan names a fuse function), polled for a while.
bool waits_in_fuse(const std::atomic<pid_t> &tid) {
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(5ms)) {
    if (tid == 0) continue;
    std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/wchan");
    std::string wchan;
    std::getline(in, wchan);
    if (wchan.find("fuse") != std::string::npos || wchan.find("request_wait") != std::string::npos)
      return true;
  }
  return false;
}

class DaemonStop : public ::testing::TestWithParam<FsKind> {};

TEST_P(DaemonStop, CallsFallBackThenCompleteRightOnce) {
  ASSERT_TRUE(kShortServerTimeout);
  MountOptions o;
  o.fs = GetParam();
  AttachedFs fs(o);
  const pid_t daemon = fs.fs().daemon_pid();
  journal::Workers workers(fs.mnt(), kThreads, nullptr, 11);
  int probe_rc = -1, probe_errno = 0;
  finesse_route probe_route = FINESSE_ROUTE_NONE;
  workers.start();
  ASSERT_TRUE(workers.each_runs(300, 10s)) << "the load did not get going";
  {
    Continue guard{daemon};
    ASSERT_EQ(::kill(daemon, SIGSTOP), 0);
    const auto stopped_at = std::chrono::steady_clock::now();
    ASSERT_TRUE(all_threads_stopped(daemon));
    // A request posted now is never claimed: withdrawn after the timeout, it goes to the
    // kernel, which waits for the daemon.
    std::atomic<pid_t> probe_tid{0};
    std::thread probe([&] {
      probe_tid = gettid();
      probe_rc = finesse_mkdir(fs.path("probe").c_str(), 0755);
      probe_errno = errno;
      probe_route = finesse_last_route();
    });
    EXPECT_TRUE(waits_in_fuse(probe_tid)) << "the probe never reached the kernel's FUSE wait";
    std::this_thread::sleep_until(stopped_at + 1s);  // the workers' calls time out too
    ::kill(daemon, SIGCONT);
    probe.join();
  }
  EXPECT_EQ(probe_rc, 0) << strerror(probe_errno);
  EXPECT_EQ(probe_route, FINESSE_ROUTE_KERNEL) << "a stopped server answered?";
  ASSERT_TRUE(workers.each_runs(50, 10s)) << "calls did not resume after SIGCONT";
  bool returned = workers.stop_and_wait(10s);
  if (!returned) {  // unblock the stuck calls so that the test can end
    ::kill(daemon, SIGKILL);
    workers.join();
  }
  ASSERT_TRUE(returned) << "a call never returned after the daemon was continued";

  // No error is acceptable here: the daemon only paused. The tree is read through the kernel.
  journal::Verdict v = workers.check(fs.mnt(), journal::Policy{});
  struct stat st;
  EXPECT_EQ(::stat(fs.path("probe").c_str(), &st), 0) << "the probe's mkdir was lost";
  EXPECT_TRUE(v.problems.empty()) << v.summary() << ::testing::PrintToString(v.problems);
  EXPECT_GT(v.bypassed, 0u) << v.summary();
  RecordProperty("journal", v.summary());
  EXPECT_TRUE(fs.fs().daemon_alive());
}

// Stopped, then killed while stopped: the calls waiting on it (on a claimed request, or in
// the kernel after withdrawing theirs) all return, the cut-off ones happened at most once.
TEST(DaemonStopThenKill, WaitingCallsReturnAndHappenedAtMostOnce) {
  MountOptions o;
  o.fs = FsKind::kPassthrough;
  AttachedFs fs(o);
  const pid_t daemon = fs.fs().daemon_pid();
  std::atomic<bool> stopped{false};
  journal::Workers workers(fs.mnt(), kThreads, &stopped, 13);
  workers.start();
  ASSERT_TRUE(workers.each_runs(300, 10s)) << "the load did not get going";
  stopped = true;  // an error seen after this may be the fault's
  ASSERT_EQ(::kill(daemon, SIGSTOP), 0);
  ASSERT_TRUE(all_threads_stopped(daemon));
  std::this_thread::sleep_for(500ms);  // past the client timeout: some calls are in the kernel
  ASSERT_EQ(::kill(daemon, SIGKILL), 0);
  EXPECT_TRUE(workers.each_runs(20, 10s)) << "calls did not get past the killed daemon";
  ASSERT_TRUE(workers.stop_and_wait(10s)) << "a call never returned";

  journal::Policy policy{{ENOTCONN, ECONNABORTED}};
  policy.fault_ends_the_daemon = true;
  journal::Verdict v = workers.check(fs.fs().source(), policy);
  EXPECT_TRUE(v.problems.empty()) << v.summary() << ::testing::PrintToString(v.problems);
  EXPECT_GE(v.unknown, static_cast<size_t>(kThreads)) << v.summary();
  RecordProperty("journal", v.summary());
  fs.fs().stop();
}

INSTANTIATE_TEST_SUITE_P(All, DaemonStop, ::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                         [](const auto &i) { return fs_name(i.param); });

}  // namespace
}  // namespace finesse::testing
