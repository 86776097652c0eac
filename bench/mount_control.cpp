#include "mount_control.h"

#include "daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "interrupt.h"
#include "mountinfo.h"

extern char **environ;

namespace finesse::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kMountTimeout = std::chrono::seconds(10);
constexpr int kExitAfterUnmountMs = 2000;
constexpr int kExitAfterSigtermMs = 2000;

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::string read_file(const std::string &path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string describe_status(int status) {
  return describe_wait_status(status);
}

}  // namespace

bool is_mounted(const std::string &path, const std::string &fstype_prefix) {
  for (const MountinfoEntry &e : read_mountinfo())
    if (e.mount_point == path && e.fstype.starts_with(fstype_prefix)) return true;
  return false;
}

DaemonMount::DaemonMount(DaemonSpec spec) : spec_(std::move(spec)) {
  spawn();
  try {
    wait_for_mount();
  } catch (...) {
    stop();  // the destructor does not run for a throwing constructor
    throw;
  }
}

DaemonMount::~DaemonMount() {
  stop();
}

void DaemonMount::spawn() {
  ExecImage image(spec_.argv, spec_.env);
  const int log_fd =
      open(spec_.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    throw std::runtime_error("cannot create " + spec_.log_path + ": " + std::strerror(errno));
  }
  // Own process group: a terminal's ^C reaches finesse-bench only, which then stops us in
  // order.
  pid_ = spawn_daemon(image, log_fd, true, "finesse-bench");
  const int fork_errno = errno;
  close(log_fd);
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(fork_errno));
  emergency_slot_ = remember_emergency_mount(spec_.mountpoint.c_str(), pid_);
}

void DaemonMount::wait_for_mount() {
  const auto deadline = Clock::now() + kMountTimeout;
  for (;;) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      throw std::runtime_error(spec_.argv[0] + " " + describe_status(status) + " before mounting " +
                               spec_.mountpoint + "; its output:\n" + read_file(spec_.log_path));
    }
    if (is_mounted(spec_.mountpoint, "fuse")) return;
    if (Clock::now() > deadline) {
      throw std::runtime_error(spec_.argv[0] + " did not mount " + spec_.mountpoint +
                               " within 10 s; its output:\n" + read_file(spec_.log_path));
    }
    throw_if_interrupted();
    sleep_ms(2);
  }
}

bool DaemonMount::reap_within(int milliseconds) {
  if (reaped_) return true;
  const auto deadline = Clock::now() + std::chrono::milliseconds(milliseconds);
  for (;;) {
    int status = 0;
    const pid_t got = waitpid(pid_, &status, WNOHANG);
    if (got == pid_ || (got < 0 && errno == ECHILD)) return reaped_ = true;
    if (Clock::now() > deadline) return false;
    sleep_ms(1);
  }
}

void DaemonMount::stop() {
  if (pid_ <= 0) return;
  // EBUSY means something still uses the mount (e.g. a cwd): retry briefly, then detach lazily
  // so the mount is gone from the namespace whatever happens.
  for (int attempt = 0; is_mounted(spec_.mountpoint); ++attempt) {
    if (umount2(spec_.mountpoint.c_str(), 0) == 0) break;
    if (errno != EBUSY || attempt >= 50) {
      umount2(spec_.mountpoint.c_str(), MNT_DETACH);
      break;
    }
    sleep_ms(10);
  }
  // Once unmounted, the daemon's read on /dev/fuse fails and it exits by itself.
  if (!reap_within(kExitAfterUnmountMs)) {
    kill(pid_, SIGTERM);
    if (!reap_within(kExitAfterSigtermMs)) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
      reaped_ = true;
    }
  }
  if (is_mounted(spec_.mountpoint)) umount2(spec_.mountpoint.c_str(), MNT_DETACH);
  forget_emergency_mount(emergency_slot_);
  emergency_slot_ = -1;
  pid_ = -1;
}

std::vector<std::string> daemon_argv(const std::string &binary, const std::string &src,
                                     const std::string &mnt, const std::string &options) {
  const std::string base = binary.substr(binary.rfind('/') + 1);
  if (base != "passthrough_ll") return {binary, src, mnt, "-f", "-o", options};
  std::string ll = "source=" + src;
  size_t pos = 0;
  while (pos <= options.size()) {
    size_t end = options.find(',', pos);
    if (end == std::string::npos) end = options.size();
    const std::string opt = options.substr(pos, end - pos);
    pos = end + 1;
    if (opt.rfind("attr_timeout=", 0) == 0 || opt.empty()) continue;
    ll += "," + (opt.rfind("entry_timeout=", 0) == 0 ? "timeout=" + opt.substr(14) : opt);
  }
  return {binary, mnt, "-f", "-o", ll};
}

}  // namespace finesse::bench
