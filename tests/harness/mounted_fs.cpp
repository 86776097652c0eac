// A sample file system daemon mounted for one test, and always cleaned up again.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "daemon_process.h"
#include "harness.h"
#include "internal.h"

extern char **environ;

namespace finesse::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kPollEvery{2};
constexpr milliseconds kExitAfterUnmount{1000};  // the daemon's loop ends on its own
constexpr milliseconds kExitAfterSigterm{2000};
constexpr milliseconds kExitAfterSigkill{3000};

std::string binary_for(FsKind kind) {
  return bin_dir() + "/finesse-" + fs_name(kind);
}

std::string format_number(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string describe_status(int status) { return describe_wait_status(status); }


}  // namespace

MountedFs::MountedFs(MountOptions opts) : opts_(std::move(opts)) {
  if (opts_.mountpoint.empty()) {
    mnt_ = tmp_.sub("mnt");
    mkdir(mnt_.c_str(), 0755);
  } else {
    mnt_ = opts_.mountpoint;
  }
  if (opts_.fs == FsKind::kPassthrough) {
    src_ = tmp_.sub("src");
    mkdir(src_.c_str(), 0755);
  }
  log_ = tmp_.sub("daemon.log");
  try {
    spawn();
    wait_for_mount();
  } catch (...) {
    stop();  // the destructor does not run for a throwing constructor
    throw;
  }
}

MountedFs::~MountedFs() {
  stop();
}

std::vector<std::string> MountedFs::command_line() const {
  std::vector<std::string> args{opts_.binary.empty() ? binary_for(opts_.fs) : opts_.binary};
  if (!src_.empty()) args.push_back(src_);
  args.push_back(mnt_);
  args.push_back("-f");
  if (opts_.single_threaded) args.push_back("-s");
  std::vector<std::string> options;
  if (opts_.default_permissions) options.push_back("default_permissions");
  if (opts_.allow_other) options.push_back("allow_other");
  if (opts_.entry_timeout >= 0) {
    options.push_back("entry_timeout=" + format_number(opts_.entry_timeout));
  }
  if (opts_.attr_timeout >= 0) {
    options.push_back("attr_timeout=" + format_number(opts_.attr_timeout));
  }
  if (!options.empty()) {
    std::string joined;
    for (const auto &option : options) joined += (joined.empty() ? "" : ",") + option;
    args.push_back("-o");
    args.push_back(joined);
  }
  args.insert(args.end(), opts_.extra_args.begin(), opts_.extra_args.end());
  return args;
}

void MountedFs::spawn() {
  ExecImage image(command_line(), opts_.env);
  const int log_fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot create " + log_ + ": " + strerror(errno));
  detail::registry_add(mnt_);
  // The daemon must not outlive a test process that is SIGKILLed (e.g. by a ctest timeout):
  // spawn_daemon sets PR_SET_PDEATHSIG, and libfuse unmounts on SIGTERM.
  pid_ = spawn_daemon(image, log_fd, false, "finesse harness");
  const int fork_errno = errno;
  close(log_fd);
  if (pid_ < 0) {
    detail::registry_remove(mnt_);
    throw std::runtime_error(std::string("fork: ") + strerror(fork_errno));
  }
  detail::registry_set_pid(mnt_, pid_);
  std::ofstream(tmp_.sub(detail::kDaemonFile)) << pid_ << "\n";
}

void MountedFs::wait_for_mount() {
  const auto deadline = Clock::now() + opts_.mount_timeout;
  const std::string name = "finesse-" + fs_name(opts_.fs);
  for (;;) {
    // Checked first so a daemon that failed is reported at once, not after the timeout.
    if (waitpid(pid_, &status_, WNOHANG) == pid_) {
      reaped_ = true;
      throw std::runtime_error(name + " " + describe_status(status_) + " before mounting " + mnt_ +
                               "; its stderr:\n" + daemon_stderr());
    }
    detail::MountEntry entry;
    if (detail::find_mount(mnt_, &entry) && entry.fstype.starts_with("fuse")) {
      conn_minor_ = entry.minor;
      return;
    }
    if (Clock::now() > deadline) {
      throw std::runtime_error(name + " did not mount " + mnt_ + " within " +
                               std::to_string(opts_.mount_timeout.count()) + " ms; its stderr:\n" +
                               daemon_stderr());
    }
    detail::sleep_for(kPollEvery);
  }
}

bool MountedFs::reap(milliseconds within) {
  if (reaped_ || pid_ <= 0) return true;
  const auto deadline = Clock::now() + within;
  for (;;) {
    const pid_t got = waitpid(pid_, &status_, WNOHANG);
    if (got == pid_ || (got < 0 && errno == ECHILD)) {
      reaped_ = true;
      return true;
    }
    if (Clock::now() > deadline) return false;
    detail::sleep_for(milliseconds(1));
  }
}

int MountedFs::stop() {
  if (stopped_) return status_;
  stopped_ = true;
  // A stopped daemon can neither answer the requests umount may wait for nor act on SIGTERM.
  if (!reaped_ && pid_ > 0) kill(pid_, SIGCONT);
  const bool clean = detail::unmount_bounded(mnt_, conn_minor_, reaped_ ? -1 : pid_);
  // Once cleanly unmounted, the daemon's read on /dev/fuse fails and it exits by itself; a
  // detached mount that is still in use keeps it serving, so it needs SIGTERM at once.
  if (!reap(clean ? kExitAfterUnmount : milliseconds(0))) {
    kill(pid_, SIGTERM);
    if (!reap(kExitAfterSigterm)) {
      kill(pid_, SIGKILL);
      if (!reap(kExitAfterSigkill)) {
        std::fprintf(stderr, "finesse harness: daemon %d survived SIGKILL; leaving it\n",
                     static_cast<int>(pid_));
      }
    }
  }
  // The daemon may have remounted nothing, but a kill can leave a dead mount behind.
  detail::unmount_bounded(mnt_, conn_minor_, -1);
  detail::registry_remove(mnt_);
  return status_;
}

bool MountedFs::daemon_alive() const {
  if (reaped_ || pid_ <= 0) return false;
  // WNOWAIT: look without reaping, so stop() still gets the status.
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return false;
  }
  return info.si_pid == 0;
}

std::string MountedFs::daemon_stderr() const {
  return detail::read_text_file(log_);
}

}  // namespace finesse::testing
