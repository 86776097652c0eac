// finesse-memfs MOUNTPOINT [options]: mounts an empty in-memory file system.
#include "common/fuse_runner.h"
#include "common/options.h"
#include "memfs/memfs.h"
#include "memfs/memfs_ops.h"

int main(int argc, char **argv) {
  using namespace finesse::examples;
  const ProgramInfo program{"finesse-memfs", "An in-memory file system (libfuse low-level API).",
                            /*takes_source=*/false};
  CommandLine cmdline;
  if (auto status = parse_command_line(program, argc, argv, &cmdline)) return *status;
  memfs::MemFs fs(
      memfs::Timeouts{cmdline.entry_timeout, cmdline.attr_timeout, cmdline.negative_timeout});
  return run_lowlevel_fs(program, cmdline, memfs::memfs_operations(), &fs);
}
