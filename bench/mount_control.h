// A FUSE daemon started in the foreground (-f) as a child process, and its mount. The daemon is
// always reaped and the mount always removed: on destruction, on a failed start, and (through
// interrupt.h) on a second SIGINT/SIGTERM. The daemon also gets SIGTERM if finesse-bench dies
// (PR_SET_PDEATHSIG), and libfuse unmounts on SIGTERM.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace finesse::bench {

struct DaemonSpec {
  std::vector<std::string> argv;           // argv[0] is the binary's path
  std::map<std::string, std::string> env;  // added to (or replacing) our environment
  std::string mountpoint;                  // waited for in /proc/self/mountinfo
  std::string log_path;                    // the daemon's stdout and stderr
};

class DaemonMount {
 public:
  // Starts the daemon and waits until the mount is live. Throws std::runtime_error (with the
  // daemon's log) when the daemon exits first or the mount does not appear in time.
  explicit DaemonMount(DaemonSpec spec);
  ~DaemonMount();
  DaemonMount(const DaemonMount &) = delete;
  DaemonMount &operator=(const DaemonMount &) = delete;

  pid_t pid() const { return pid_; }
  const std::string &mountpoint() const { return spec_.mountpoint; }
  // Unmounts and reaps the daemon (idempotent).
  void stop();

 private:
  DaemonSpec spec_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int emergency_slot_ = -1;

  void spawn();
  void wait_for_mount();
  bool reap_within(int milliseconds);
};

// The command line of a passthrough daemon of src on mnt with the configuration's -o options
// ("entry_timeout=..,attr_timeout=.."): finesse-passthrough takes SRC MNT; libfuse's
// passthrough_ll takes MNT and -o source=SRC, timeout=T.
std::vector<std::string> daemon_argv(const std::string &binary, const std::string &src,
                                     const std::string &mnt, const std::string &options);

// True if `path` is a mount point whose file system type starts with `fstype_prefix`.
bool is_mounted(const std::string &path, const std::string &fstype_prefix = "");

}  // namespace finesse::bench
