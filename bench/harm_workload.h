// The do-no-harm suite (issue 14: Finesse must not slow down anything it does not speed up):
// whole-process timings of two variants of the same work, interleaved, reported as the
// median over rounds of the ratio variant / reference, against a target.
//  (a) programs that never touch a Finesse mount (a tree walk, an open/fstat/close loop on the
//      storage itself), Finesse loaded and a mount attached vs `finesse-loader unload`'s state;
//      in blocks (load, K runs, unload, K runs), the blocks' order alternating per round;
//  (b) the shim (LD_PRELOAD=libfinesse_preload.so) vs none: /bin/true, a process making one
//      stat on the attached mount, a shell loop of 300 `mv` on it;
//  (c) the kernel path with the server (a daemon under libfinesse_fuse.so, attached) vs a plain
//      daemon, two mounts of twin trees, no shim: ls -lR, du -s, find, grep -r, tar x;
//  (d) the applications suite (apps_workload.h) through the shim vs kernel FUSE on the
//      attached mount.
// (b), (c) and (d) run in each mount configuration; pairs alternate which variant goes first.
#pragma once

#include <string>
#include <vector>

#include "options.h"
#include "progress.h"
#include "statistics.h"

namespace finesse::bench {

inline constexpr size_t kHarmFiles = 3000;      // the trees' files (100 bytes, 50 per directory)
inline constexpr size_t kHarmLoopCalls = 5000;  // (a): open/fstat/close per process
inline constexpr int kHarmMvPairs = 150;        // (b): 2 x 150 = 300 mv processes
// (b)'s processes that take a millisecond (true, one stat) get this many times the rounds.
inline constexpr int kHarmOneShotFactor = 10;

struct HarmCase {
  std::string key;                            // for JSON, e.g. "walk_find"
  char group = 'a';                           // the part: a, b, c, d
  std::string label;                          // what runs
  std::string config;                         // the mount configuration's key; empty: on no mount
  std::string variant, baseline;              // what is compared: variant / baseline
  double target = 1.0;                        // the median ratio must not exceed this
  std::vector<double> variant_s, baseline_s;  // every timed run, seconds
  std::vector<double> ratios;                 // one per round
  int failed_runs = 0;                        // exited with a nonzero status
  // Calls the server answered over shared memory during the case ((d): during all its
  // applications); -1: not counted.
  long long bypassed = -1;
};

struct HarmEval {
  Summary variant_s, baseline_s, ratio;
  bool met = false;  // ratio.median <= target
};
HarmEval evaluate_harm(const HarmCase &c);

struct HarmResult {
  std::string storage_key;
  size_t files = 0;
  int rounds = 0, block = 0;  // pairs per case (true, one stat: kHarmOneShotFactor x); (a)'s block
  std::vector<HarmCase> cases;
  std::vector<std::string> notes;
};

struct HarmBinaries {
  std::string fs_binary, preload_lib, shim_lib, probe;
};

// Throws std::runtime_error on a setup failure, Interrupted on SIGINT/SIGTERM; every mount is
// gone by then, and the BPF programs are unloaded unless they were loaded before.
HarmResult run_harm(const Options &options, const HarmBinaries &binaries, Progress &progress);
// Progress steps run_harm takes.
size_t harm_steps(const Options &options);

}  // namespace finesse::bench
