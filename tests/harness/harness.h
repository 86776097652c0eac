// Integration-test harness: temp dirs, real FUSE mounts of the sample file systems, and
// running code as another user. Every mount is unmounted and its daemon reaped on every path
// (normal end, failed assertion, timeout, exception): no stale mount is ever left behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace finesse::testing {

// Directory of the built binaries and libraries (build/bin, build/lib), from the
// FINESSE_BUILD_DIR compile definition or the FINESSE_BUILD_DIR environment variable.
std::string bin_dir();
std::string lib_dir();

// Whether the tests run under emulation (the VM tests under TCG set FINESSE_TEST_EMULATED):
// calls are many times slower and threads of one process interleave at other points, so
// bounds that depend on timing are looser there.
bool emulated();

// A fresh directory under /tmp/finesse-test-XXXXXX, removed recursively on destruction
// (after making sure nothing is mounted below it).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::string &path() const { return path_; }
  std::string sub(const std::string &name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

enum class FsKind { kMemfs, kPassthrough, kHighLevel };
std::string fs_name(FsKind kind);  // "memfs", "passthrough", "hlfs"

struct MountOptions {
  FsKind fs = FsKind::kMemfs;
  bool default_permissions = false;
  bool allow_other = false;
  double entry_timeout = -1;  // < 0: the file system's default
  double attr_timeout = -1;
  bool single_threaded = false;            // pass -s
  std::vector<std::string> extra_args;     // appended to the command line
  std::map<std::string, std::string> env;  // e.g. {"LD_PRELOAD", ".../libfinesse_fuse.so"}
  std::chrono::milliseconds mount_timeout{10000};
  // A test's own file system instead of the sample fs (run as BINARY MNT -f [-o ...]).
  std::string binary;
  // Harness self-tests only: mount here instead of <tmp>/mnt (not created by the harness).
  std::string mountpoint;
};

// The options the differential and permission suites vary.
inline MountOptions mount_options(FsKind kind, bool default_permissions, bool allow_other) {
  MountOptions o;
  o.fs = kind;
  o.default_permissions = default_permissions;
  o.allow_other = allow_other;
  return o;
}

// A mounted sample file system, daemon started in the foreground (-f) as a child process.
// The daemon gets SIGTERM when the thread that started it dies (PR_SET_PDEATHSIG), so even a
// SIGKILLed test leaves no live mount: create a MountedFs on a thread that outlives it.
class MountedFs {
 public:
  // Creates <tmp>/mnt (and <tmp>/src for passthrough), starts the daemon and waits until the
  // mount is live. Throws std::runtime_error (with the daemon's stderr) if the daemon exits
  // or the mount does not appear within mount_timeout.
  explicit MountedFs(MountOptions opts);
  ~MountedFs();  // unmount, reap (SIGTERM, then SIGKILL), lazy-detach as last resort
  MountedFs(const MountedFs &) = delete;
  MountedFs &operator=(const MountedFs &) = delete;

  const std::string &mountpoint() const { return mnt_; }
  const std::string &source() const { return src_; }  // passthrough only; empty otherwise
  std::string path(const std::string &rel) const { return mnt_ + "/" + rel; }
  pid_t daemon_pid() const { return pid_; }
  bool daemon_alive() const;
  std::string daemon_stderr() const;  // what the daemon wrote so far
  // Unmounts and reaps now (idempotent); returns the daemon's exit status as waitpid gives it.
  int stop();

 private:
  MountOptions opts_;
  TempDir tmp_;
  std::string mnt_, src_, log_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool stopped_ = false;
  bool reaped_ = false;      // waitpid already collected status_
  unsigned conn_minor_ = 0;  // FUSE connection id (/sys/fs/fuse/connections/<minor>)

  std::vector<std::string> command_line() const;
  void spawn();
  void wait_for_mount();
  bool reap(std::chrono::milliseconds within);
};

// True if `path` is currently a mount point (per /proc/self/mountinfo).
bool is_mounted(const std::string &path);

// Exit codes run_as uses for its own failures (distinct from errno values and 128+signal).
inline constexpr int kRunAsSetupFailed = 254;  // setgroups/setgid/setuid did not take effect
inline constexpr int kRunAsThrew = 253;        // fn threw an exception

// Forks; the child drops to uid/gid (default: nobody/nogroup, no supplementary groups) and
// runs fn, exiting with its return value. Returns the child's exit code, or 128+signal.
// The child leaves with _exit (no gtest teardown, no atexit), so gtest assertions inside fn
// are lost: report failures through the return value (e.g. return errno).
int run_as(std::function<int()> fn, uid_t uid = 65534, gid_t gid = 65534,
           std::vector<gid_t> groups = {});

// Runs a command (argv[0] looked up in PATH), returns exit status; stdout/stderr captured.
// status is the exit code, 128+signal if killed, 127 if it could not be executed.
struct CommandResult {
  int status = -1;
  std::string out, err;
};
CommandResult run_command(const std::vector<std::string> &argv,
                          const std::map<std::string, std::string> &env = {},
                          const std::string &cwd = "");

// Safety net for the whole test program (finesse_test_main calls it after InitGoogleTest):
// on SIGTERM/SIGINT/SIGALRM/SIGABRT/SIGSEGV/SIGBUS and at the end of the run it detaches every
// mount this process still has under /tmp/finesse-test-* and kills their daemons; it arms a
// per-test watchdog (alarm) of FINESSE_TEST_TIMEOUT seconds (default 30, 0 = off); and it
// clears mounts left behind by earlier test processes that died (owner pid gone).
void install_safety_net();

}  // namespace finesse::testing
