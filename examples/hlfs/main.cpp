// finesse-hlfs MOUNTPOINT [options]: mounts an empty in-memory file system (high-level API).
#include "common/fuse_runner.h"
#include "common/options.h"
#include "hlfs/hlfs.h"

int main(int argc, char **argv) {
  using namespace finesse::examples;
  const ProgramInfo program{"finesse-hlfs", "An in-memory file system (libfuse high-level API).",
                            /*takes_source=*/false};
  CommandLine cmdline;
  if (auto status = parse_command_line(program, argc, argv, &cmdline)) return *status;
  hlfs::Timeouts timeouts{cmdline.entry_timeout, cmdline.attr_timeout, cmdline.negative_timeout};
  return run_highlevel_fs(program, cmdline, hlfs::hlfs_operations(), &timeouts);
}
