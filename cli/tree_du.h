// `finesse du`: disk usage as coreutils' du reports it (the same lines, messages and exit
// status), read through libfinesse: each directory listed through the bypass and its
// entries' attributes asked for in one batch (finesse_batch), on attached mounts; elsewhere
// the same calls go to the kernel.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace finesse::cli {

struct DuOptions {
  bool summarize = false;  // -s: one line per argument
  bool apparent = false;   // --apparent-size: st_size instead of allocated blocks
  long block_size = 1024;  // -b: 1 (and apparent sizes)
};

// Runs du over paths (none: "."), lines to out, messages to err; returns the exit status.
int run_du(const DuOptions &opts, const std::vector<std::string> &paths, FILE *out, FILE *err);

}  // namespace finesse::cli
