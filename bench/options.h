// finesse-bench's command line.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace finesse::bench {

// The parts of a run (--suite).
inline constexpr const char *kSuites[] = {"ops", "delete", "apps", "spin", "taskset", "harm"};

struct Options {
  std::string source_parent;  // --source-dir: replaces the storages with this directory
  std::vector<std::string> storages = {"ext4ram", "tmpfs"};
  std::vector<std::string> suites = {"ops", "delete", "apps", "spin", "taskset", "harm"};
  size_t files = 20'000;    // delete workload: preallocated files per run
  size_t app_files = 2000;  // applications: files in the tarball's tree
  int pin_cpu = -1;         // >= 0: this process and its daemons run on that CPU only
  std::string plot_path;    // empty: next to the JSON, or build/bench/ratios.png
  bool quick = false;       // a smoke run: few calls, reps, files
  size_t ops = 2000;        // calls per measurement
  int reps = 5;             // measurements per (config, operation, column)
  std::string json_path;    // empty: no JSON
  std::string fs_binary;    // empty: finesse-passthrough next to finesse-bench
  std::string preload_lib;  // empty: ../lib/libfinesse_fuse.so from there
  // For profiling one thing at a time: empty means all.
  std::vector<std::string> only_ops;      // operation keys (stat_existing, ...)
  std::vector<std::string> only_configs;  // cached, uncached
};

// Parses argv. On --help or a usage error returns the exit status to leave with (after printing
// usage or a one-line error); otherwise fills *out and returns nothing.
std::optional<int> parse_options(int argc, char **argv, Options *out);

}  // namespace finesse::bench
