// finesse-bench's command line.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace finesse::bench {

struct Options {
  std::string source_parent = "/dev/shm";  // a fresh work dir (source + mountpoint) goes here
  size_t ops = 2000;                       // calls per measurement
  int reps = 5;                            // measurements per (config, operation, column)
  std::string json_path;                   // empty: no JSON
  std::string fs_binary;                   // empty: finesse-passthrough next to finesse-bench
  std::string preload_lib;                 // empty: ../lib/libfinesse_fuse.so from there
  // For profiling one thing at a time: empty means all.
  std::vector<std::string> only_ops;      // operation keys (stat_existing, ...)
  std::vector<std::string> only_configs;  // cached, uncached
};

// Parses argv. On --help or a usage error returns the exit status to leave with (after printing
// usage or a one-line error); otherwise fills *out and returns nothing.
std::optional<int> parse_options(int argc, char **argv, Options *out);

}  // namespace finesse::bench
