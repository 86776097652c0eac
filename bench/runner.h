// The whole run: for each mount configuration a fresh passthrough mount, attached; then
// reps x operations x columns measurements, the columns interleaved (native, fuse, bypass,
// native, ...) so that slow drifts of the machine hit all three alike.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "options.h"
#include "workloads.h"

namespace finesse::bench {

struct MountConfig {
  std::string key;            // for JSON
  std::string label;          // for the table
  std::string mount_options;  // passed with -o
  bool kernel_caching;
};
const std::vector<MountConfig> &mount_configs();

struct ConfigResult {
  MountConfig config;
  std::map<std::pair<Op, Column>, std::vector<Sample>> samples;  // one per rep
  bool probe_bypassed = false;  // a finesse_stat right after attaching took the bypass
};

inline bool measured(const ConfigResult &config, Op op) {
  return config.samples.contains({op, Column::kNative});
}

struct RunResult {
  Options options;
  std::string fs_binary, preload_lib;
  std::string source_fs;  // file system type under --source-dir
  std::vector<ConfigResult> configs;
  double seconds = 0;
  // 1-minute load average before and after: other busy processes hurt the spinning bypass most.
  double load_before = 0, load_after = 0;
};

// Throws std::runtime_error on a setup failure, Interrupted on SIGINT/SIGTERM; every mount is
// gone and the work directory removed by then.
RunResult run_benchmark(const Options &options);

}  // namespace finesse::bench
