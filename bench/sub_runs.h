// Parts of the run that need a fresh finesse-bench process: the spin-budget sweep (the client
// reads its spin budgets once per process, the daemon at its start) and the per-operation
// suite with everything pinned to one CPU. Each child runs `--suite ops` with JSON output,
// which is read back here.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "options.h"
#include "progress.h"

namespace finesse::bench {

// FINESSE_CLIENT_SPIN_US, FINESSE_CLIENT_WAKE_SPIN_US and FINESSE_SERVER_SPIN_US, all alike.
const std::vector<int> &spin_settings();
inline constexpr const char *kSpinOps = "stat_missing,unlink,chmod";
inline constexpr const char *kSpinConfig = "uncached";
inline constexpr int kPinnedCpu = 0;

// [{"spin_us": N, "result": child JSON or null, "error": "..."}, ...]
nlohmann::json run_spin_sweep(const Options &options, Progress &progress);
// {"cpu": 0, "result": child JSON or null, "error": "..."}
nlohmann::json run_taskset(const Options &options, Progress &progress);

}  // namespace finesse::bench
