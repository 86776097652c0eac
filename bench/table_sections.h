// The text tables besides the per-call one: delete throughput, applications, the spin-budget
// sweep, the pinned-CPU run and the do-no-harm suite.
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
void print_harm(const RunResult &run, std::FILE *out);  // table_harm.cpp

}  // namespace finesse::bench
