#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>

#include <string>

#include "evaluation.h"
#include "report.h"
#include "table_format.h"
#include "table_sections.h"

namespace finesse::bench {
namespace {

// Above this 1-minute load the machine was shared with other busy processes.
constexpr double kBusyLoad = 1.0;

void print_config(const ConfigResult &config, std::FILE *out) {
  if (config.samples.empty()) return;
  std::fprintf(out, "\n== per call: %s, %s source (%s)   (-o %s)\n", config.config.label.c_str(),
               config.storage_key.c_str(), config.source_fs.c_str(),
               config.config.mount_options.c_str());
  const char *row = "%-29s %-20s %-20s %-20s %8s %8s %8s %15s %20s %8s  %s\n";
  std::fprintf(out, row, "operation", "native us/call", "fuse us/call", "bypass us/call",
               "fuse/nat", "byp/nat", "removed", "srv CPU us/call", "CPU us/call (cl+srv)",
               "kernel-", "target");
  std::fprintf(out, row, "", "median [min-max]", "median [min-max]", "median [min-max]", "", "", "",
               "fuse / bypass", "nat / fuse / byp", "routed", "");
  for (const OpInfo &op : all_ops()) {
    if (!measured(config, op.op)) continue;
    const RowEval r = evaluate(config, op);
    char share[32] = "n/a";
    if (r.has_share) std::snprintf(share, sizeof(share), "%.2f", r.share_removed);
    const std::string cpu = us(r.col[1].server_cpu_us) + " / " + us(r.col[2].server_cpu_us);
    const std::string both =
        us(r.col[0].cpu_us) + " / " + us(r.col[1].cpu_us) + " / " + us(r.col[2].cpu_us);
    std::string routed = "n/a";
    if (op.bypassable) {
      const uint64_t n = std::max(r.kernel_routed, r.client_kernel);
      routed = std::to_string(n) + (n != 0 ? " !!" : "");
    }
    std::fprintf(out, row, op.label, spread(r.col[0].us).c_str(), spread(r.col[1].us).c_str(),
                 spread(r.col[2].us).c_str(), ratio(r.fuse_over_native).c_str(),
                 ratio(r.bypass_over_native).c_str(), share, cpu.c_str(), both.c_str(),
                 routed.c_str(), r.target_text.c_str());
  }
}

}  // namespace

void print_table(const RunResult &run, std::FILE *out) {
  utsname u{};
  uname(&u);
  std::fprintf(out,
               "finesse-bench: %s, kernel %s, %s; %zu calls per measurement, "
               "%d reps interleaved (native, fuse, bypass); %.0f s%s\n",
               run.fs_binary.c_str(), u.release, cpu_model().c_str(), run.options.ops,
               run.options.reps, run.seconds, run.options.quick ? "  (--quick)" : "");
  std::fprintf(out, "load average (1 min) before %.2f, after %.2f on %ld CPUs%s\n", run.load_before,
               run.load_after, sysconf(_SC_NPROCESSORS_ONLN),
               std::max(run.load_before, run.load_after) > kBusyLoad
                   ? "  -- CAUTION: other processes were busy; spinning handoffs suffer most"
                   : "");
  for (const ConfigResult &config : run.configs) print_config(config, out);
  print_deletes(run, out);
  print_apps(run, out);
  print_spin_sweep(run, out);
  print_taskset(run, out);
  print_harm(run, out);
  if (!run.configs.empty()) {
    std::fprintf(
        out,
        "\nnative: libc on the source dir; fuse: libc on the mount (kernel FUSE path); "
        "bypass: finesse_* on the same mount, attached.\n"
        "removed = (fuse - bypass) / (fuse - native), from the medians. srv CPU: the "
        "daemon's CPU time per call, all threads.\n"
        "kernel-routed: bypass-column calls whose finesse_last_route() was not BYPASS "
        "(must be 0).\n"
        "CPU us/call: the calling thread's CPU time plus the daemon's, per call.\n"
        "* not bypassed, the kernel path in all three columns (bypass = fuse): create is "
        "open(O_CREAT|O_EXCL)+close, open+close\n  opens an existing file. readdir 1000: "
        "opendir, readdir to the end (1000 entries), closedir.\n"
        "Targets: removed >= 0.8 for mutations, missing names and uncached stat/access/fstat; "
        "cached stat/access/fstat: bypass <= 1.5x fuse.\n");
  }
  const auto issues = problems(run);
  if (!issues.empty()) {
    std::fprintf(out, "\n!!!!!!!! THE RESULTS ABOVE ARE NOT VALID AS THEY STAND !!!!!!!!\n");
    for (const auto &issue : issues) std::fprintf(out, "!!! %s\n", issue.c_str());
  }
}

}  // namespace finesse::bench
