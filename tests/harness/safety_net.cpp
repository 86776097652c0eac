// Program-wide safety net: whatever ends the test run (normal end, signal, watchdog), no
// mount and no daemon of this process survives it.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "harness.h"
#include "internal.h"

namespace finesse::testing {
namespace detail {
namespace {

// Kills the daemon recorded in a temp dir, but only if that pid still runs a daemon for
// this very directory (the pid may have been reused).
void kill_recorded_daemon(const std::string &dir) {
  const pid_t pid = std::atoi(read_text_file(dir + "/" + kDaemonFile).c_str());
  if (pid <= 0) return;
  std::string cmdline = read_text_file("/proc/" + std::to_string(pid) + "/cmdline");
  for (auto &c : cmdline) c = (c == '\0') ? ' ' : c;
  if (cmdline.find(dir + "/") == std::string::npos) return;
  kill(pid, SIGCONT);
  kill(pid, SIGKILL);
}

}  // namespace

void sweep_temp_dirs(pid_t owner) {
  DIR *tmp = opendir("/tmp");
  if (tmp == nullptr) return;
  const std::string prefix = std::string(kTempPrefix).substr(5);  // after "/tmp/"
  std::vector<std::string> doomed;
  while (const dirent *entry = readdir(tmp)) {
    if (std::strncmp(entry->d_name, prefix.c_str(), prefix.size()) != 0) continue;
    const std::string dir = std::string("/tmp/") + entry->d_name;
    const pid_t dir_owner = std::atoi(read_text_file(dir + "/" + kOwnerFile).c_str());
    if (dir_owner <= 0) continue;  // being created right now, or not ours to judge
    const bool match = owner != 0 ? dir_owner == owner : process_gone(dir_owner);
    if (match) doomed.push_back(dir);
  }
  closedir(tmp);
  for (const auto &dir : doomed) {
    kill_recorded_daemon(dir);
    detach_mounts_below(dir);
    remove_tree(dir);
  }
}

}  // namespace detail

namespace {

constexpr int kDefaultTimeoutSeconds = 30;
constexpr int kFatalSignals[] = {SIGTERM, SIGINT, SIGALRM, SIGHUP, SIGABRT, SIGSEGV, SIGBUS};

unsigned g_timeout_seconds = kDefaultTimeoutSeconds;
char g_current_test[512] = "";  // for the watchdog message; written outside signal context

void say(const char *text) {
  (void)!write(STDERR_FILENO, text, std::strlen(text));
}

void on_fatal_signal(int sig) {
  if (sig == SIGALRM) {
    say("\nfinesse harness: watchdog: test ");
    say(g_current_test);
    say(" exceeded FINESSE_TEST_TIMEOUT; detaching its mounts and aborting\n");
  }
  detail::emergency_cleanup();
  raise(sig);  // SA_RESETHAND restored the default action: die with the original signal
}

class SafetyNetListener : public ::testing::EmptyTestEventListener {
  void OnTestStart(const ::testing::TestInfo &info) override {
    std::snprintf(g_current_test, sizeof g_current_test, "%s.%s", info.test_suite_name(),
                  info.name());
    alarm(g_timeout_seconds);
  }
  void OnTestEnd(const ::testing::TestInfo &) override { alarm(0); }
  void OnTestProgramEnd(const ::testing::UnitTest &) override {
    alarm(0);
    detail::emergency_cleanup();
    detail::sweep_temp_dirs(getpid());
  }
};

}  // namespace

void install_safety_net() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  detail::set_owner_pid(getpid());
  if (const char *env = std::getenv("FINESSE_TEST_TIMEOUT"); env != nullptr && *env != '\0') {
    g_timeout_seconds = static_cast<unsigned>(std::atoi(env));
  }
  struct sigaction action {};
  action.sa_handler = on_fatal_signal;
  action.sa_flags = SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  for (int sig : kFatalSignals) sigaction(sig, &action, nullptr);
  std::atexit([] { detail::emergency_cleanup(); });
  ::testing::UnitTest::GetInstance()->listeners().Append(new SafetyNetListener);
  // Mounts of earlier test processes that were SIGKILLed (their owner pid is gone).
  detail::sweep_temp_dirs(0);
}

}  // namespace finesse::testing
