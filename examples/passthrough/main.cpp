// finesse-passthrough SOURCE MOUNTPOINT [options]: mirrors SOURCE at MOUNTPOINT.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/fuse_runner.h"
#include "common/options.h"
#include "passthrough/passthrough.h"

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
  passthrough::Passthrough fs(
      source_fd,
      passthrough::Timeouts{cmdline.entry_timeout, cmdline.attr_timeout, cmdline.negative_timeout});
  return run_lowlevel_fs(program, cmdline, passthrough::passthrough_operations(), &fs);
}
