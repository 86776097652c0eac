// Unmounting a FUSE mount without ever hanging, whatever state its daemon is in.
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>

#include "internal.h"

namespace finesse::testing::detail {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kBusyRetryFor{500};   // EBUSY: something still has a file open
constexpr milliseconds kBlockedAfter{2000};  // umount itself stuck waiting on the daemon
constexpr milliseconds kGiveUpAfter{5000};   // overall bound, whatever happens

enum class Outcome { kDone, kBusy, kBlocked, kFailed };

// Polls for the child's exit for at most `within`; true if it was reaped.
bool reap_within(pid_t child, int *status, milliseconds within) {
  const auto deadline = Clock::now() + within;
  while (waitpid(child, status, WNOHANG) == 0) {
    if (Clock::now() > deadline) return false;
    sleep_for(milliseconds(1));
  }
  return true;
}

// Makes every pending and future request on the connection fail with ECONNABORTED.
void abort_connection(unsigned conn_minor) {
  if (conn_minor == 0) return;
  const std::string file = "/sys/fs/fuse/connections/" + std::to_string(conn_minor) + "/abort";
  const int fd = open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;  // fusectl not mounted: killing the daemon aborts the connection too
  (void)!write(fd, "1", 1);
  close(fd);
}

// A umount stuck in the kernel waits for the daemon: cut the daemon off so it returns.
void unblock(pid_t umount_child, unsigned conn_minor, pid_t daemon) {
  abort_connection(conn_minor);
  if (daemon > 0) {
    kill(daemon, SIGCONT);
    kill(daemon, SIGKILL);  // closing /dev/fuse aborts the connection
  }
  kill(umount_child, SIGKILL);
  int status = 0;
  if (!reap_within(umount_child, &status, milliseconds(2000))) {
    std::fprintf(stderr, "finesse harness: umount helper %d is stuck; leaving it\n",
                 static_cast<int>(umount_child));
  }
}

// umount2(mnt, 0) in a child process so that a umount stuck in the kernel blocks the
// child, not the test.
Outcome try_umount(const std::string &mnt, unsigned conn_minor, pid_t daemon) {
  const pid_t child = fork();
  if (child < 0) return umount2(mnt.c_str(), 0) == 0 ? Outcome::kDone : Outcome::kFailed;
  if (child == 0) _exit(umount2(mnt.c_str(), 0) == 0 ? 0 : errno);
  int status = 0;
  if (!reap_within(child, &status, kBlockedAfter)) {
    unblock(child, conn_minor, daemon);
    return Outcome::kBlocked;
  }
  if (!WIFEXITED(status)) return Outcome::kFailed;
  const int err = WEXITSTATUS(status);
  if (err == 0 || err == EINVAL || err == ENOENT) return Outcome::kDone;  // EINVAL: not mounted
  return err == EBUSY ? Outcome::kBusy : Outcome::kFailed;
}

}  // namespace

bool unmount_bounded(const std::string &mnt, unsigned conn_minor, pid_t daemon) {
  const auto start = Clock::now();
  bool clean = true;
  while (find_mount(mnt, nullptr) && Clock::now() - start < kGiveUpAfter) {
    const Outcome outcome = try_umount(mnt, conn_minor, daemon);
    if (outcome == Outcome::kDone) continue;  // re-check: there may be stacked mounts
    clean = false;
    if (outcome == Outcome::kBusy && Clock::now() - start < kBusyRetryFor) {
      sleep_for(milliseconds(10));
      continue;
    }
    break;
  }
  // Last resort: a lazy detach always succeeds and never waits for the daemon.
  for (int i = 0; i < 8 && find_mount(mnt, nullptr); ++i) {
    clean = false;
    umount2(mnt.c_str(), MNT_DETACH);
  }
  return clean;
}

}  // namespace finesse::testing::detail
