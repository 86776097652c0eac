// Mounting and running a sample file system once its command line is parsed: session setup,
// signal handling, daemonizing, the event loop and unmounting, for both libfuse APIs.
#pragma once

#include <fuse.h>
#include <fuse_lowlevel.h>

#include "common/options.h"

namespace finesse::examples {

// Runs a low-level file system until it is unmounted or signalled. Returns the exit status:
// 0 after an orderly end (unmount, SIGINT, SIGTERM, SIGHUP), kExitUsageError when libfuse
// rejects an option, kExitRuntimeError when mounting or the event loop fails.
int run_lowlevel_fs(const ProgramInfo &program, const CommandLine &cmdline,
                    const fuse_lowlevel_ops &ops, void *userdata);

// The same for a high-level (fuse.h) file system; private_data is what fuse_get_context()
// reports. Timeouts in `cmdline` are for the caller to apply in its init handler.
int run_highlevel_fs(const ProgramInfo &program, const CommandLine &cmdline,
                     const fuse_operations &ops, void *private_data);

}  // namespace finesse::examples
