// Clients that die (SIGKILL mid-call, or _exit) must not leak anything in the daemon: its
// fds, client regions and memory come back to where they were.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "attached_fs.h"
#include "journal.h"
#include "proc_stats.h"

namespace finesse::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr char kRegionMapping[] = "finesse-region";

// Child: a few bypassed stats, a one-byte verdict on the pipe (0: all bypassed and right),
// then either _exit or keep calling until the parent's SIGKILL lands mid-call.
[[noreturn]] void child(const std::string &file, int verdict_fd, bool exit_early) {
  struct stat st;
  char verdict = 0;
  for (int i = 0; i < 3 && verdict == 0; i++) {
    if (finesse_stat(file.c_str(), &st) != 0)
      verdict = 1;
    else if (finesse_last_route() != FINESSE_ROUTE_BYPASS)
      verdict = 2;
    else if (st.st_size != 5)
      verdict = 3;
  }
  (void)!write(verdict_fd, &verdict, 1);
  if (exit_early) _exit(0);
  for (;;) finesse_stat(file.c_str(), &st);
}

// Forks one client, waits for its verdict, ends it. Returns the verdict (or -1 on timeout).
int run_client(const std::string &file, bool exit_early) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) child(file, p[1], exit_early);
  close(p[1]);
  char verdict = -1;
  pollfd pfd{p[0], POLLIN, 0};
  if (poll(&pfd, 1, 5000) == 1 && read(p[0], &verdict, 1) != 1) verdict = -1;
  close(p[0]);
  if (!exit_early) {
    std::this_thread::sleep_for(std::chrono::microseconds(100 * (pid % 10)));
    kill(pid, SIGKILL);
  }
  int status;
  waitpid(pid, &status, 0);
  return verdict;
}

// Polls until the daemon's state is back to `want` (teardown is asynchronous).
template <class F>
bool settles(F read_now, int want) {
  for (auto deadline = Clock::now() + 2s; Clock::now() < deadline;) {
    if (read_now() == want) return true;
    std::this_thread::sleep_for(10ms);
  }
  return read_now() == want;
}

TEST(ClientKill, DaemonResourcesStayFlat) {
  AttachedFs fs(MountOptions{});
  int fd = ::open(fs.path("f").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "12345", 5), 5);
  ::close(fd);
  const pid_t daemon = fs.fs().daemon_pid();
  const std::string file = fs.path("f");

  // This process stays connected throughout: its region shows that the probe sees regions.
  struct stat st;
  ASSERT_EQ(finesse_stat(file.c_str(), &st), 0);
  ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  // Warm up, so lazily allocated state in the daemon is not counted as growth.
  for (int i = 0; i < 5; i++) ASSERT_EQ(run_client(file, i % 2), 0);
  ASSERT_TRUE(settles([&] { return static_cast<int>(fs.stats().clients_active); }, 1));
  const uint64_t total_before = fs.stats().clients_total;
  // The control connections of stats() are closed by the daemon asynchronously too.
  std::this_thread::sleep_for(200ms);
  const int fds = open_fd_count(daemon);
  const int regions = mapping_count(daemon, kRegionMapping);
  const long rss = rss_kb(daemon);
  ASSERT_GT(fds, 0);
  ASSERT_EQ(regions, 1) << "only this process is connected: one region";

  for (int i = 0; i < 50; i++) ASSERT_EQ(run_client(file, i % 5 == 0), 0) << "client " << i;

  EXPECT_EQ(fs.stats().clients_total - total_before, 50u) << "each client connected once";
  EXPECT_TRUE(settles([&] { return open_fd_count(daemon); }, fds))
      << "daemon fds: " << open_fd_count(daemon) << ", before: " << fds;
  EXPECT_TRUE(settles([&] { return mapping_count(daemon, kRegionMapping); }, regions))
      << "regions still mapped: " << mapping_count(daemon, kRegionMapping);
  EXPECT_TRUE(settles([&] { return static_cast<int>(fs.stats().clients_active); }, 1));
  EXPECT_LT(rss_kb(daemon) - rss, 4096) << "RSS grew from " << rss << " kB";
  EXPECT_TRUE(fs.fs().daemon_alive());
}

// Clients killed at random points of a stream of mutations (their journal is written before
// and after each call, so the call the kill interrupted is known): the daemon takes their
// slots and regions back, keeps serving, and each one's directory holds exactly what its
// journal allows (the interrupted call happened once or not at all).
TEST(ClientKill, MutatingClientsKilledMidCallLeaveAConsistentTree) {
  AttachedFs fs(MountOptions{});
  const pid_t daemon = fs.fs().daemon_pid();
  TempDir logs;
  ASSERT_EQ(::mkdir(fs.path("f").c_str(), 0755), 0);
  struct stat st;
  ASSERT_EQ(finesse_stat(fs.path("f").c_str(), &st), 0);
  ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  ASSERT_TRUE(settles([&] { return static_cast<int>(fs.stats().clients_active); }, 1));
  std::this_thread::sleep_for(200ms);  // control connections of stats() close asynchronously
  const int fds = open_fd_count(daemon);
  const int regions = mapping_count(daemon, kRegionMapping);

  constexpr int kClients = 40;
  std::mt19937 rng(4242);
  for (int i = 0; i < kClients; i++) {
    const std::string dir = fs.path("w" + std::to_string(i));
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    int log_fd = ::open(logs.sub("w" + std::to_string(i)).c_str(),
                        O_CREAT | O_WRONLY | O_CLOEXEC | O_APPEND, 0644);
    ASSERT_GE(log_fd, 0);
    pid_t pid = fork();
    if (pid == 0) {
      journal::Recorder r(dir, static_cast<uint32_t>(i), nullptr, log_fd);
      for (;;) r.random_op();
    }
    ::close(log_fd);
    std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 20000));
    ::kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
  }

  journal::Verdict v;
  size_t interrupted = 0;
  for (int i = 0; i < kClients; i++) {
    auto entries = journal::parse_log(journal::read_file(logs.sub("w" + std::to_string(i))));
    if (!entries.empty() && !entries.back().finished) interrupted++;
    journal::check(entries, fs.path("w" + std::to_string(i)), journal::Policy{}, &v);
  }
  EXPECT_TRUE(v.problems.empty()) << v.summary() << ::testing::PrintToString(v.problems);
  EXPECT_GT(v.bypassed, 0u) << v.summary();
  EXPECT_GT(interrupted, 0u) << "no client was killed inside a call";
  RecordProperty("journal", v.summary());
  RecordProperty("interrupted", static_cast<int>(interrupted));

  ASSERT_EQ(finesse_stat(fs.path("f").c_str(), &st), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS) << "the daemon stopped serving";
  EXPECT_TRUE(settles([&] { return open_fd_count(daemon); }, fds))
      << "daemon fds: " << open_fd_count(daemon) << ", before: " << fds;
  EXPECT_TRUE(settles([&] { return mapping_count(daemon, kRegionMapping); }, regions))
      << "regions still mapped: " << mapping_count(daemon, kRegionMapping);
}

}  // namespace
}  // namespace finesse::testing
