// Unmodified programs on a tree of a few thousand small files: `tar x` of it, then
// `find -type f | xargs stat`, `ls -lR`, `du -s`, `grep -r`, `ls -laR`, `rm -rf`, in that order, as
// child processes with their output to /dev/null. The bypass column runs them with LD_PRELOAD=the
// shim, and `finesse du -s` (batches: issue 18) where the other columns run `du -s` again.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "workloads.h"

namespace finesse::bench {

enum class App { kTarX, kFindStat, kLsR, kDuS, kGrepR, kLsLaR, kFinesseDuS, kRmRf };

struct AppInfo {
  App app;
  const char *key;
  const char *label;
};
const std::vector<AppInfo> &all_apps();

struct AppSample {
  double wall_s = 0;
  double cpu_s = 0;         // the programs (client side), user + system
  double server_cpu_s = 0;  // the daemon during the program
  bool ok = false;          // exited with status 0
};

// Makes tarball (a tree of `files` files of 100 bytes in directories of 50) from scratch under
// scratch_dir; untimed.
void make_app_tarball(const std::string &scratch_dir, size_t files, const std::string &tarball);

// Runs every application once on view_dir/name (natively or on the mount), in order.
std::map<App, AppSample> measure_apps(Column column, const std::string &view_dir,
                                      const std::string &name, const std::string &tarball,
                                      const std::string &shim, pid_t daemon);

}  // namespace finesse::bench
