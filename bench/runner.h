// The whole run: for each storage and mount configuration a fresh passthrough mount,
// attached; on it the per-call suite (reps x operations x columns, the columns interleaved:
// native, fuse, bypass, native, ... so that slow drifts of the machine hit all three alike),
// the delete workload and the applications; then the child runs (spin sweep, pinned CPU);
// then the do-no-harm suite on the first storage (harm_workload.h).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps_workload.h"
#include "delete_workload.h"
#include "harm_workload.h"
#include "options.h"
#include "workloads.h"

namespace finesse::bench {

struct MountConfig {
  std::string key;            // for JSON
  std::string label;          // for the table
  std::string mount_options;  // passed with -o
  bool kernel_caching;
  // The Finesse daemon's opens without a round trip (FINESSE_KERNEL_NO_OPEN=1); measured only
  // when named in --config.
  bool kernel_no_open = false;
};
const std::vector<MountConfig> &mount_configs();
// Whether cfg is measured: named in --config (only), or, with none named, unless it is opt-in.
bool config_selected(const std::vector<std::string> &only, const MountConfig &cfg);
// The environment of the daemon with the server extension for cfg.
std::map<std::string, std::string> server_env(const MountConfig &cfg,
                                              const std::string &preload_lib);

struct ConfigResult {
  MountConfig config;
  std::string storage_key, storage_label;  // see storage.h
  std::string source_fs;                   // file system type of the source directory
  std::map<std::pair<Op, Column>, std::vector<Sample>> samples;         // one per rep
  std::map<std::pair<Column, int>, std::vector<DeleteSample>> deletes;  // (column, threads)
  std::map<std::pair<App, Column>, std::vector<AppSample>> apps;
  bool probe_bypassed = false;  // a finesse_stat right after attaching took the bypass
};

inline bool measured(const ConfigResult &config, Op op) {
  return config.samples.contains({op, Column::kNative});
}

struct RunResult {
  Options options;
  std::string fs_binary, preload_lib;
  std::string shim_lib;               // libfinesse_preload.so, for the applications
  std::vector<ConfigResult> configs;  // storages x mount configurations
  // Child runs of finesse-bench itself (--suite spin/taskset): their JSON documents, each
  // under "runs" with the setting it ran with.
  nlohmann::json spin_sweep = nlohmann::json::array();
  nlohmann::json taskset = nullptr;
  HarmResult harm;  // --suite harm; no cases otherwise
  double seconds = 0;
  // 1-minute load average before and after: other busy processes hurt the spinning bypass most.
  double load_before = 0, load_after = 0;
};

// The delete and application workloads take seconds per measurement: they repeat
// min(--reps, kHeavyReps) times.
inline constexpr int kHeavyReps = 3;
int heavy_reps(const Options &options);

// Throws std::runtime_error on a setup failure, Interrupted on SIGINT/SIGTERM; every mount is
// gone and the work directory removed by then.
RunResult run_benchmark(const Options &options);

}  // namespace finesse::bench
