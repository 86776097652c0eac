// Tests of the harness itself: mounts appear and always disappear, whatever the test or the
// daemon does; run_as and run_command behave as documented.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "harness.h"
#include "internal.h"

namespace ft = finesse::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr long kFuseSuperMagic = 0x65735546;

bool eventually(const std::function<bool()> &condition, std::chrono::milliseconds within = 3s) {
  const auto deadline = Clock::now() + within;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

char process_state(pid_t pid) {
  const std::string stat = ft::detail::read_text_file("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? '\0' : stat[paren + 2];
}

// Gone or a zombie: either way it holds no mount and no /dev/fuse connection any more.
bool daemon_dead(pid_t pid) {
  return ft::detail::process_gone(pid) || process_state(pid) == 'Z';
}

std::string parent_dir(const std::string &path) {
  return path.substr(0, path.rfind('/'));
}

bool exists(const std::string &path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::string self_exe() {
  char buffer[4096];
  const ssize_t n = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : "";
}

// ---------------------------------------------------------------------------------------------
// TempDir

TEST(TempDirTest, IsFreshAndRemovedRecursively) {
  std::string path;
  {
    ft::TempDir dir;
    path = dir.path();
    ASSERT_TRUE(path.starts_with("/tmp/finesse-test-")) << path;
    ft::TempDir other;
    EXPECT_NE(other.path(), path);
    ASSERT_EQ(mkdir(dir.sub("a").c_str(), 0700), 0);
    std::ofstream(dir.sub("a/file")) << "x";
    ASSERT_EQ(symlink("/etc", dir.sub("a/link").c_str()), 0);
  }
  EXPECT_FALSE(exists(path));
  EXPECT_TRUE(exists("/etc/passwd"));  // the symlink was removed, not followed
}

TEST(TempDirTest, DetachesMountsBelowBeforeRemoving) {
  std::string path, mnt;
  {
    ft::TempDir dir;
    path = dir.path();
    mnt = dir.sub("m");
    ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
    ASSERT_EQ(mount("none", mnt.c_str(), "tmpfs", 0, "size=1m"), 0) << strerror(errno);
    ASSERT_TRUE(ft::is_mounted(mnt));
  }
  EXPECT_FALSE(ft::is_mounted(mnt));
  EXPECT_FALSE(exists(path));
}

// ---------------------------------------------------------------------------------------------
// MountedFs lifecycle, for every sample file system

class MountLifecycleTest : public ::testing::TestWithParam<ft::FsKind> {};

TEST_P(MountLifecycleTest, MountAppearsWorksAndDisappears) {
  std::string mnt;
  pid_t pid = -1;
  {
    ft::MountedFs fs({.fs = GetParam()});
    mnt = fs.mountpoint();
    pid = fs.daemon_pid();
    ASSERT_TRUE(ft::is_mounted(mnt));
    struct statfs sfs;
    ASSERT_EQ(statfs(mnt.c_str(), &sfs), 0) << strerror(errno);
    EXPECT_EQ(sfs.f_type, kFuseSuperMagic);
    EXPECT_TRUE(fs.daemon_alive());
    std::ofstream(fs.path("hello")) << "world";
    std::string back;
    std::ifstream(fs.path("hello")) >> back;
    EXPECT_EQ(back, "world");
    if (GetParam() == ft::FsKind::kPassthrough) {
      EXPECT_TRUE(exists(fs.source() + "/hello"));
    }

    const int status = fs.stop();
    EXPECT_FALSE(ft::is_mounted(mnt));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "daemon did not exit cleanly after unmount, wait status " << status << "\n"
        << fs.daemon_stderr();
    EXPECT_FALSE(fs.daemon_alive());
    EXPECT_EQ(fs.stop(), status);  // idempotent
  }
  EXPECT_TRUE(ft::detail::process_gone(pid));
  EXPECT_FALSE(exists(parent_dir(mnt)));
}

INSTANTIATE_TEST_SUITE_P(AllFs, MountLifecycleTest,
                         ::testing::Values(ft::FsKind::kMemfs, ft::FsKind::kPassthrough,
                                           ft::FsKind::kHighLevel),
                         [](const auto &info) { return ft::fs_name(info.param); });

TEST(MountedFsTest, OptionsAndEnvironmentReachTheDaemon) {
  ft::MountedFs fs({.fs = ft::FsKind::kMemfs,
                    .default_permissions = true,
                    .allow_other = true,
                    .entry_timeout = 0,
                    .attr_timeout = 1.5,
                    .single_threaded = true,
                    .env = {{"FINESSE_HARNESS_PROBE", "42"}}});
  const std::string proc = "/proc/" + std::to_string(fs.daemon_pid());
  std::string cmdline = ft::detail::read_text_file(proc + "/cmdline");
  for (auto &c : cmdline) c = (c == '\0') ? ' ' : c;
  EXPECT_NE(cmdline.find(fs.mountpoint() + " -f -s -o default_permissions,allow_other,"
                                           "entry_timeout=0,attr_timeout=1.5"),
            std::string::npos)
      << cmdline;
  const std::string environ = ft::detail::read_text_file(proc + "/environ");
  EXPECT_NE(environ.find(std::string("FINESSE_HARNESS_PROBE=42\0", 25)), std::string::npos);
}

TEST(MountedFsTest, DaemonThatCannotMountThrowsAtOnceWithItsError) {
  const auto start = Clock::now();
  try {
    ft::MountedFs fs({.fs = ft::FsKind::kMemfs, .mountpoint = "/nonexistent/finesse-mnt"});
    FAIL() << "mounted on a missing directory";
  } catch (const std::runtime_error &e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("before mounting"), std::string::npos) << what;
    const auto stderr_part = what.find("its stderr:");
    ASSERT_NE(stderr_part, std::string::npos) << what;
    EXPECT_NE(what.find("/nonexistent/finesse-mnt", stderr_part), std::string::npos)
        << "the daemon's own error should be in the message: " << what;
  }
  EXPECT_LT(Clock::now() - start, 2s) << "a failing daemon must be reported at once";
  EXPECT_FALSE(ft::is_mounted("/nonexistent/finesse-mnt"));
}

TEST(MountedFsTest, StoppedDaemonWithPendingRequestIsCleanedUpQuickly) {
  auto fs = std::make_unique<ft::MountedFs>(ft::MountOptions{.fs = ft::FsKind::kMemfs});
  const std::string mnt = fs->mountpoint();
  const pid_t daemon = fs->daemon_pid();
  ASSERT_EQ(kill(daemon, SIGSTOP), 0);
  ASSERT_TRUE(eventually([&] { return process_state(daemon) == 'T'; }));
  // A request the stopped daemon cannot answer, held by another process.
  const pid_t blocked = fork();
  if (blocked == 0) {
    struct stat st;
    _exit(stat((mnt + "/never-answered").c_str(), &st) == 0 ? 0 : 1);
  }
  std::this_thread::sleep_for(50ms);

  const auto start = Clock::now();
  fs.reset();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_FALSE(ft::is_mounted(mnt));
  EXPECT_TRUE(daemon_dead(daemon));
  int status = 0;
  EXPECT_TRUE(eventually([&] { return waitpid(blocked, &status, WNOHANG) == blocked; }))
      << "the request blocked on the stopped daemon was never released";
}

TEST(MountedFsTest, CrashedDaemonIsHandled) {
  ft::MountedFs fs({.fs = ft::FsKind::kMemfs});
  ASSERT_EQ(kill(fs.daemon_pid(), SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return !fs.daemon_alive(); }));
  struct stat st;
  EXPECT_EQ(stat(fs.path("x").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOTCONN);  // the dead mount is still there until the harness removes it
  const int status = fs.stop();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  EXPECT_FALSE(ft::is_mounted(fs.mountpoint()));
}

TEST(MountedFsTest, BusyMountIsStillRemoved) {
  ft::MountedFs fs({.fs = ft::FsKind::kMemfs});
  const int fd = open(fs.path("held-open").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0) << strerror(errno);
  const auto start = Clock::now();
  fs.stop();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_FALSE(ft::is_mounted(fs.mountpoint()));
  EXPECT_FALSE(fs.daemon_alive());
  close(fd);
}

TEST(MountedFsTest, ConcurrentMountsAreIndependent) {
  ft::MountedFs a({.fs = ft::FsKind::kMemfs});
  ft::MountedFs b({.fs = ft::FsKind::kMemfs});
  EXPECT_NE(a.mountpoint(), b.mountpoint());
  std::ofstream(a.path("only-in-a")) << "a";
  EXPECT_TRUE(exists(a.path("only-in-a")));
  EXPECT_FALSE(exists(b.path("only-in-a")));
  b.stop();
  EXPECT_TRUE(ft::is_mounted(a.mountpoint()));
}

// ---------------------------------------------------------------------------------------------
// Failing tests leave nothing behind. Each scenario runs this binary as a child on a test that
// exists only when FINESSE_HARNESS_SELFTEST=1 (so ctest never sees it), then inspects the
// mount and daemon the child reported.

struct Scenario {
  const char *name;
  int expected_status;         // of the child test program
  bool temp_dir_removed;       // false when a signal ended it (the next run's sweep removes it)
  std::function<void()> body;  // runs after the mount is up and reported
};

std::unique_ptr<ft::MountedFs> mount_and_report() {
  auto fs = std::make_unique<ft::MountedFs>(ft::MountOptions{.fs = ft::FsKind::kMemfs});
  std::printf("FINESSE_SELFTEST mnt=%s daemon=%d\n", fs->mountpoint().c_str(), fs->daemon_pid());
  std::fflush(stdout);
  return fs;
}

const std::vector<Scenario> &scenarios() {
  static const std::vector<Scenario> all = {
      {"FailedAssertion", 1, true, [] { FAIL() << "deliberate failure with a mounted FS"; }},
      {"Exception", 1, true, [] { throw std::runtime_error("deliberate exception"); }},
      {"StoppedDaemonAndFailure", 1, true,
       [] { FAIL() << "deliberate failure"; }},  // the daemon is SIGSTOPped in the runner
      {"Watchdog", 128 + SIGALRM, false, [] { std::this_thread::sleep_for(20s); }},
      {"Sigterm", 128 + SIGTERM, false, [] { raise(SIGTERM); }},
      {"Sigkill", 128 + SIGKILL, false, [] { raise(SIGKILL); }},
      {"LeakedMount", 0, true, [] { (void)mount_and_report().release(); }},
  };
  return all;
}

class SelfTestCase : public ::testing::Test {
 public:
  explicit SelfTestCase(const Scenario &s) : scenario_(s) {}
  void TestBody() override {
    if (std::string(scenario_.name) == "LeakedMount") return scenario_.body();
    auto fs = mount_and_report();
    if (std::string(scenario_.name) == "StoppedDaemonAndFailure") kill(fs->daemon_pid(), SIGSTOP);
    scenario_.body();
  }

 private:
  const Scenario &scenario_;
};

[[maybe_unused]] const bool g_selftests_registered = [] {
  if (std::getenv("FINESSE_HARNESS_SELFTEST") == nullptr) return false;
  for (const auto &s : scenarios()) {
    ::testing::RegisterTest("HarnessSelfTest", s.name, nullptr, nullptr, __FILE__, __LINE__,
                            [&s]() -> ::testing::Test * { return new SelfTestCase(s); });
  }
  return true;
}();

class FailingTestCleanupTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(FailingTestCleanupTest, LeavesNoMountAndNoDaemon) {
  const Scenario &s = GetParam();
  const auto start = Clock::now();
  const auto result =
      ft::run_command({self_exe(), std::string("--gtest_filter=HarnessSelfTest.") + s.name},
                      {{"FINESSE_HARNESS_SELFTEST", "1"},
                       {"FINESSE_TEST_TIMEOUT", std::string(s.name) == "Watchdog" ? "1" : "10"}});
  EXPECT_LT(Clock::now() - start, 10s);
  EXPECT_EQ(result.status, s.expected_status) << result.out << result.err;

  char mnt[4096] = "";
  int daemon = -1;
  const auto line = result.out.find("FINESSE_SELFTEST ");
  ASSERT_NE(line, std::string::npos) << result.out << result.err;
  ASSERT_EQ(
      sscanf(result.out.c_str() + line, "FINESSE_SELFTEST mnt=%4095s daemon=%d", mnt, &daemon), 2);
  // After SIGKILL nothing in the test process ran: the daemon's PR_SET_PDEATHSIG (SIGTERM
  // makes libfuse unmount) or the next run's sweep of dead owners must clear it.
  if (std::string(s.name) == "Sigkill") {
    eventually([&] { return !ft::is_mounted(mnt) && daemon_dead(daemon); });
  }
  if (!s.temp_dir_removed) ft::detail::sweep_temp_dirs(0);  // as the next test run would

  EXPECT_FALSE(ft::is_mounted(mnt)) << "stale mount left behind";
  EXPECT_TRUE(eventually([&] { return daemon_dead(daemon); })) << "daemon " << daemon;
  EXPECT_FALSE(exists(parent_dir(mnt)));
}

INSTANTIATE_TEST_SUITE_P(Scenarios, FailingTestCleanupTest, ::testing::ValuesIn(scenarios()),
                         [](const auto &info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// run_as and run_command

TEST(RunAsTest, DropsToNobodyWithoutGroups) {
  const int rc = ft::run_as([] {
    return getuid() == 65534 && geteuid() == 65534 && getgid() == 65534 &&
                   getgroups(0, nullptr) == 0
               ? 0
               : 1;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(geteuid(), 0u) << "the parent must keep its credentials";
}

TEST(RunAsTest, SetsSupplementaryGroups) {
  const int rc = ft::run_as(
      [] {
        gid_t groups[8];
        const int n = getgroups(8, groups);
        return n == 2 && groups[0] + groups[1] == 4242 + 4343 && getuid() == 1234 ? 0 : 1;
      },
      1234, 1234, {4242, 4343});
  EXPECT_EQ(rc, 0);
}

TEST(RunAsTest, ReturnsErrnoStyleResultsSignalsAndExceptions) {
  EXPECT_EQ(ft::run_as([] { return access("/root/.", W_OK) == 0 ? 0 : errno; }), EACCES);
  EXPECT_EQ(ft::run_as([] { return raise(SIGUSR1), 0; }), 128 + SIGUSR1);
  EXPECT_EQ(ft::run_as([]() -> int { throw std::runtime_error("x"); }), ft::kRunAsThrew);
  EXPECT_EQ(ft::run_as([] { return 0; }, 0, 0, {}), 0);  // root → root is fine too
}

TEST(RunCommandTest, CapturesOutputStatusEnvironmentAndCwd) {
  const auto r = ft::run_command({"sh", "-c", "echo out:$PROBE; pwd; echo err >&2; exit 3"},
                                 {{"PROBE", "yes"}}, "/usr");
  EXPECT_EQ(r.status, 3);
  EXPECT_EQ(r.out, "out:yes\n/usr\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(RunCommandTest, LargeOutputOnBothStreamsDoesNotDeadlock) {
  const auto r = ft::run_command(
      {"sh", "-c", "head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2; echo done >&2"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out.size(), 300000u);
  EXPECT_EQ(r.err.size(), 300005u);
}

TEST(RunCommandTest, MissingProgramAndSignals) {
  EXPECT_EQ(ft::run_command({"/nonexistent/program"}).status, 127);
  EXPECT_EQ(ft::run_command({"sh", "-c", "kill -TERM $$"}).status, 128 + SIGTERM);
}

}  // namespace
