// The paper's delete workload: N preallocated 4 KB files in directories of 1000, created
// natively (untimed), caches dropped, then all deleted by 1 or 4 threads, each thread taking
// whole directories. Reported as files per second.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "workloads.h"

namespace finesse::bench {

inline constexpr size_t kDeleteDirWidth = 1000;
inline constexpr int kDeleteThreads[] = {1, 4};

struct DeleteSample {
  double seconds = 0;  // the timed deletes
  double files_per_s = 0;
  double client_cpu_s = 0;  // this process, all threads, during the deletes
  double server_cpu_s = 0;  // the daemon, all threads, during the deletes
  uint64_t files = 0, failures = 0;
  int first_errno = 0;
  uint64_t kernel_routed = 0;  // bypass column: unlinks whose finesse_last_route() was not BYPASS
};

// Preallocates `files` files under native_dir/name, drops the caches, deletes them through
// `column`'s calls under view_dir/name (the same tree: natively or through the mount), and
// removes the emptied directories.
DeleteSample measure_delete(Column column, const std::string &native_dir,
                            const std::string &view_dir, const std::string &name, size_t files,
                            int threads, pid_t daemon);

}  // namespace finesse::bench
