// finesse-bench: see options.cpp for what it measures and runner.h for how.
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <exception>

#include "evaluation.h"
#include "interrupt.h"
#include "options.h"
#include "report.h"
#include "runner.h"

int main(int argc, char **argv) {
  using namespace finesse::bench;
  // The per-call suites time bypassed calls: this process's reads wait for a sleeping server
  // instead of taking the kernel (common/tuning.h). The programs the other suites run get the
  // shim's default (shim_env).
  setenv("FINESSE_WAKE_FOR_READS", "1", 1);
  Options options;
  if (auto status = parse_options(argc, argv, &options)) return *status;
  if (geteuid() != 0) {
    std::fprintf(stderr,
                 "finesse-bench: must run as root (it mounts a FUSE file system and attaches the "
                 "Finesse loader)\n");
    return 3;
  }
  install_interrupt_handlers();
  if (options.pin_cpu >= 0) {  // the daemons started later inherit the mask
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(options.pin_cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
      std::perror("finesse-bench: sched_setaffinity");
      return 1;
    }
  }
  try {
    const RunResult run = run_benchmark(options);
    print_table(run, stdout);
    if (!options.json_path.empty()) write_json(run, options.json_path);
    if (options.pin_cpu < 0) write_plot(run, plot_path(options), stdout);
    const auto issues = problems(run);
    for (const auto &issue : issues) std::fprintf(stderr, "finesse-bench: !!! %s\n", issue.c_str());
    return issues.empty() ? 0 : 4;
  } catch (const Interrupted &) {
    std::fprintf(stderr, "finesse-bench: interrupted; mounts removed\n");
    return 130;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "finesse-bench: %s\n", e.what());
    return 1;
  }
}
