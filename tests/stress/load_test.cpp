// Load: kProcesses x kThreads workers run mixed metadata operations (stat, mkdir, rmdir,
// rename, unlink, chmod, symlink, readlink through libfinesse, create through open) on one
// mount for FINESSE_STRESS_SECONDS (default 10). Every result must be one the journal model
// predicts and the final tree (read through the kernel) must agree with the journals; the
// daemon's RSS and fd count, sampled every second, must stay flat.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "attached_fs.h"
#include "journal_workers.h"
#include "proc_stats.h"

namespace finesse::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kProcesses = 8;
constexpr int kThreads = 4;
constexpr int kPool = journal::kDefaultPool;  // names per worker directory

int stress_seconds() {
  const char *v = getenv("FINESSE_STRESS_SECONDS");
  int s = v ? atoi(v) : 0;
  return s > 0 ? s : 10;
}

// One worker process: its threads run until `seconds` pass, then it hands its journals over
// as files in `log_dir` and exits 0 (1: a thread did not return; 2: setup failed).
[[noreturn]] void worker_process(const std::string &mnt, const std::string &log_dir, int p,
                                 int seconds, std::atomic<long> *progress) {
  try {
    journal::Workers w(mnt, kThreads, nullptr, 100 + static_cast<uint32_t>(p), p * kThreads);
    w.start();
    for (auto end = Clock::now() + std::chrono::seconds(seconds); Clock::now() < end;) {
      std::this_thread::sleep_for(100ms);
      progress->store(w.ops());
    }
    if (!w.stop_and_wait(60s)) _exit(1);  // leave the stuck threads to _exit
    progress->store(w.ops());
    for (int i = 0; i < kThreads; i++) {
      std::ofstream out(log_dir + "/w" + std::to_string(p * kThreads + i));
      out << journal::format_log(w.recorder(i).entries());
      if (!out) _exit(2);
    }
  } catch (...) {
    _exit(2);
  }
  _exit(0);
}

struct Sample {
  long rss_kb;
  long anon_kb;
  int fds;
  long ops;
};

void run_load(const MountOptions &o, const std::string &label) {
  const int seconds = stress_seconds();
  AttachedFs fs(o);
  const pid_t daemon = fs.fs().daemon_pid();
  TempDir logs;
  struct stat st;
  ASSERT_EQ(finesse_stat(fs.mnt().c_str(), &st), 0);
  ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  std::this_thread::sleep_for(200ms);
  const int fds_before = open_fd_count(daemon);
  const long rss_before = rss_kb(daemon);
  const long anon_before = rss_anon_kb(daemon);

  // Progress counters the workers share with this process.
  void *shared = mmap(nullptr, sizeof(std::atomic<long>) * kProcesses, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(shared, MAP_FAILED);
  auto *progress = new (shared) std::atomic<long>[kProcesses]();
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcesses; p++) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) worker_process(fs.mnt(), logs.path(), p, seconds, &progress[p]);
    pids.push_back(pid);
  }
  auto total_ops = [&] {
    long n = 0;
    for (int p = 0; p < kProcesses; p++) n += progress[p].load();
    return n;
  };

  // Sample the daemon every second until every worker has exited.
  const auto start = Clock::now();
  std::vector<Sample> samples;
  std::vector<int> statuses(kProcesses, -1);
  int running = kProcesses;
  auto give_up = start + std::chrono::seconds(seconds + 90);
  while (running > 0 && Clock::now() < give_up) {
    std::this_thread::sleep_for(1s);
    samples.push_back({rss_kb(daemon), rss_anon_kb(daemon), open_fd_count(daemon), total_ops()});
    for (int p = 0; p < kProcesses; p++) {
      if (statuses[p] != -1) continue;
      int status;
      if (waitpid(pids[p], &status, WNOHANG) == pids[p]) {
        statuses[p] = status;
        running--;
      }
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  for (int p = 0; p < kProcesses; p++)
    if (statuses[p] == -1) {
      ::kill(pids[p], SIGKILL);
      waitpid(pids[p], &statuses[p], 0);
    }
  const long ops = total_ops();
  munmap(shared, sizeof(std::atomic<long>) * kProcesses);
  for (int p = 0; p < kProcesses; p++)
    EXPECT_TRUE(WIFEXITED(statuses[p]) && WEXITSTATUS(statuses[p]) == 0)
        << "worker process " << p << " ended with status " << statuses[p];

  // Every journal against the tree, read through the kernel.
  journal::Verdict v;
  for (int i = 0; i < kProcesses * kThreads; i++) {
    std::string name = "w" + std::to_string(i);
    journal::check(journal::parse_log(journal::read_file(logs.sub(name))), fs.path(name),
                   journal::Policy{}, &v);
  }
  EXPECT_TRUE(v.problems.empty()) << v.summary() << ::testing::PrintToString(v.problems);
  EXPECT_EQ(v.unknown, 0u) << v.summary();
  EXPECT_EQ(static_cast<long>(v.ops), ops) << "journals and progress counters disagree";
  EXPECT_GT(v.bypassed, v.ops / 2) << "the load mostly missed the bypass: " << v.summary();

  // Resources. A file system may hold an fd per inode looked up (passthrough does), so the
  // daemon's fds are bounded by the tree while it exists, and come back to where they were
  // once the tree is removed and the server has returned its lookups (flush). The daemon's
  // private memory (RssAnon: VmRSS also counts the client regions mapped at the time) grows
  // after the warm-up (a third of the run, at most 3 s) by less than 10 % (or 2 MiB).
  for (int i = 0; i < kProcesses * kThreads; i++)
    std::filesystem::remove_all(fs.path("w" + std::to_string(i)));
  EXPECT_EQ(fs.control(control::Op::kFlush), 0);
  auto fds_settle = [&] {
    for (auto deadline = Clock::now() + 5s; Clock::now() < deadline;) {
      if (open_fd_count(daemon) == fds_before) return true;
      std::this_thread::sleep_for(20ms);
    }
    return open_fd_count(daemon) == fds_before;
  };
  EXPECT_TRUE(fds_settle()) << "daemon fds " << open_fd_count(daemon) << ", before " << fds_before;
  const long rss_after = rss_kb(daemon), anon_after = rss_anon_kb(daemon);
  ASSERT_GE(samples.size(), 2u);
  const size_t warm =
      std::min<size_t>(samples.size() - 1, static_cast<size_t>(std::clamp(seconds / 3, 1, 3) - 1));
  const long anon_warm = samples[warm].anon_kb;
  int fds_max = 0;
  long rss_max = 0, anon_max = 0, ops_s_min = -1, ops_s_max = 0;
  for (size_t i = 0; i < samples.size(); i++) {
    fds_max = std::max(fds_max, samples[i].fds);
    rss_max = std::max(rss_max, samples[i].rss_kb);
    if (i >= warm) anon_max = std::max(anon_max, samples[i].anon_kb);
    if (i > 0 && static_cast<int>(i) < seconds) {  // whole seconds of load
      long d = samples[i].ops - samples[i - 1].ops;
      ops_s_min = ops_s_min < 0 ? d : std::min(ops_s_min, d);
      ops_s_max = std::max(ops_s_max, d);
    }
  }
  const long anon_allowed = std::max(anon_warm / 10, 2048L);
  EXPECT_LT(anon_max - anon_warm, anon_allowed)
      << "daemon RssAnon grew from " << anon_warm << " kB (after warm-up) to " << anon_max;
  EXPECT_LT(anon_after - anon_warm, anon_allowed)
      << "daemon RssAnon grew from " << anon_warm << " kB (after warm-up) to " << anon_after;
  // Two per client connection, one per name the workers may create, one per worker directory.
  const int fds_bound = fds_before + 2 * kProcesses + kProcesses * kThreads * (kPool + 1) + 8;
  EXPECT_LE(fds_max, fds_bound) << "daemon fds peaked at " << fds_max;

  char report[768];
  snprintf(
      report, sizeof(report),
      "load on %s: %d processes x %d threads, %.1f s, %ld ops, %.0f ops/s (per second: min %ld, "
      "max %ld); %zu ok, %zu expected errors, %zu problems, %zu bypassed; daemon RssAnon "
      "%ld kB before, %ld after warm-up, %ld max, %ld after; VmRSS %ld kB before, %ld max, "
      "%ld after; fds %d before, %d max, %d after\n",
      label.c_str(), kProcesses, kThreads, elapsed, ops, static_cast<double>(ops) / seconds,
      ops_s_min, ops_s_max, v.succeeded, v.expected_errors, v.problems.size(), v.bypassed,
      anon_before, anon_warm, anon_max, anon_after, rss_before, rss_max, rss_after, fds_before,
      fds_max, open_fd_count(daemon));
  std::fputs(report, stdout);
  ::testing::Test::RecordProperty("report", report);
}

class Load : public ::testing::TestWithParam<FsKind> {};

TEST_P(Load, MixedOperationsFromManyProcessesStayCorrectAndFlat) {
  MountOptions o;
  o.fs = GetParam();
  run_load(o, fs_name(GetParam()));
}

// The same with the kernel's opens and closes answered by the extension's own handles
// (FINESSE_KERNEL_NO_OPEN=1, fuse-ext/kernel_handles.h): the creates' handles adopted and
// closed at the kernel's forgets while 32 threads create, rename and remove names.
TEST(LoadNoOpen, MixedOperationsFromManyProcessesStayCorrectAndFlat) {
  MountOptions o;
  o.fs = FsKind::kPassthrough;
  o.default_permissions = true;
  o.env["FINESSE_KERNEL_NO_OPEN"] = "1";
  run_load(o, "passthrough (no-open)");
}

INSTANTIATE_TEST_SUITE_P(All, Load, ::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                         [](const auto &i) { return fs_name(i.param); });

}  // namespace
}  // namespace finesse::testing
