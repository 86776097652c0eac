// finesse-passthrough SOURCE MOUNTPOINT [options]: mirrors SOURCE at MOUNTPOINT.
#include <sys/resource.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/fuse_runner.h"
#include "common/options.h"
#include "passthrough/passthrough.h"

namespace {

// A passthrough holds an fd for every inode the kernel knows: it takes every fd its hard
// limit allows (as libfuse's passthrough_hp does), or a directory of a few thousand files
// fails with EMFILE under a soft limit of 1024.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);  // (not fatal: the file system runs with the limit it has)
}

}  // namespace

int main(int argc, char **argv) {
  using namespace finesse::examples;
  const ProgramInfo program{"finesse-passthrough",
                            "Mirrors SOURCE at MOUNTPOINT (libfuse low-level API).",
                            /*takes_source=*/true};
  CommandLine cmdline;
  if (auto status = parse_command_line(program, argc, argv, &cmdline)) return *status;
  int source_fd = passthrough::open_source_directory(cmdline.source);
  if (source_fd < 0) {
    print_error(program,
                "cannot open source directory '" + cmdline.source + "': " + std::strerror(errno));
    return kExitRuntimeError;
  }
  // The kernel has already applied the caller's umask to the modes it sends.
  umask(0);
  raise_fd_limit();
  passthrough::Passthrough fs(
      source_fd,
      passthrough::Timeouts{cmdline.entry_timeout, cmdline.attr_timeout, cmdline.negative_timeout});
  return run_lowlevel_fs(program, cmdline, passthrough::passthrough_operations(), &fs);
}
