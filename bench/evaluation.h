// What one (configuration, operation) row says: the columns' summaries, the ratios, the share
// of FUSE's overhead removed, whether the bypass really bypassed, and the performance target.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runner.h"
#include "statistics.h"

namespace finesse::bench {

struct ColumnEval {
  Summary us;                // per-call time over the reps
  double server_cpu_us = 0;  // median daemon CPU per call
  double client_cpu_us = 0;  // median calling-thread CPU per call
  double cpu_us = 0;         // median of (client + daemon) CPU per call
  uint64_t calls = 0, failures = 0;
  int first_errno = 0;
};

enum class TargetKind {
  kNone,          // create: not bypassed
  kShareRemoved,  // (fuse - bypass) / (fuse - native) >= 0.8
  kCachedRatio,   // bypass <= 1.5 x the cached kernel path
};

struct RowEval {
  const OpInfo *op = nullptr;
  ColumnEval col[3];  // indexed by Column
  double fuse_over_native = 0, bypass_over_native = 0, bypass_over_fuse = 0;
  bool has_share = false;
  double share_removed = 0;
  uint64_t kernel_routed = 0;  // bypass column, by finesse_last_route()
  uint64_t client_kernel = 0;  // bypass column, by the client's own counters
  TargetKind target = TargetKind::kNone;
  bool target_met = false;
  std::string target_text;  // e.g. "ok  0.93>=0.8"
};

inline constexpr double kShareTarget = 0.8;
inline constexpr double kCachedRatioTarget = 1.5;

RowEval evaluate(const ConfigResult &config, const OpInfo &op);

// The delete workload for one thread count: files/s per column and the ratios to native.
struct DeleteEval {
  Summary files_per_s[3];          // indexed by Column
  double cpu_us_per_file[3] = {};  // median of (client + daemon) CPU per deleted file
  double ratio_to_native[3] = {};  // throughput / native throughput
  uint64_t failures = 0, kernel_routed = 0;
  uint64_t files = 0;  // deleted in the bypass column, all repetitions
};
DeleteEval evaluate_delete(const ConfigResult &config, int threads);

// One application: wall time per column and the ratios to native.
// Indexed by Column (kAppColumns).
struct AppEval {
  Summary seconds[kColumnCount];
  double cpu_s[kColumnCount] = {};            // median of (programs + daemon) CPU
  double ratio_to_native[kColumnCount] = {};  // time / native time
  double bypass_over_fuse = 0;     // the shim's time / kernel FUSE's (target: <= 1.0)
  // The kernel path with the server attached / kernel FUSE without Finesse (target: <= 1.0;
  // 0 when the plain column was not measured).
  double attached_over_plain = 0;
  int failed_runs = 0;
};
inline constexpr double kAppShimTarget = 1.0;
inline constexpr double kAttachedTarget = 1.0;
AppEval evaluate_app(const ConfigResult &config, App app);

// Everything that makes a bypass column not a bypass measurement, or any call fail: one line
// each, empty when all is well.
std::vector<std::string> problems(const RunResult &run);

}  // namespace finesse::bench
