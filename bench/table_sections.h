// The text tables besides the per-call one: delete throughput, applications, the spin-budget
// sweep and the pinned-CPU run.
#pragma once

#include <cstdio>
#include <string>

#include "runner.h"

namespace finesse::bench {

std::string cpu_model();  // from /proc/cpuinfo
void print_deletes(const RunResult &run, std::FILE *out);
void print_apps(const RunResult &run, std::FILE *out);
void print_spin_sweep(const RunResult &run, std::FILE *out);
void print_taskset(const RunResult &run, std::FILE *out);

}  // namespace finesse::bench
