// The results for people (an aligned text table) and for programs (JSON).
#pragma once

#include <cstdio>
#include <string>

#include "runner.h"

namespace finesse::bench {

void print_table(const RunResult &run, std::FILE *out);
// Throws std::runtime_error if the file cannot be written.
void write_json(const RunResult &run, const std::string &path);

// The plot's path: --plot, else next to --json, else bench-ratios.png here.
std::string plot_path(const Options &options);
// The ratios to native per workload as a PNG, with gnuplot. Says on `out` where it went, or
// why there is none (no gnuplot is not an error).
void write_plot(const RunResult &run, const std::string &path, std::FILE *out);

}  // namespace finesse::bench
