// The spin-budget sweep and the pinned-CPU run, printed from the child runs' JSON.
#include <string>

#include "table_format.h"
#include "table_sections.h"

namespace finesse::bench {
namespace {

using nlohmann::json;

double median_us(const json &row, const char *column) {
  return row["columns"][column].value("median_us", 0.0);
}

std::string removed(const json &row) {
  return row["overhead_removed"].is_number() ? us(row["overhead_removed"].get<double>()) : "n/a";
}

void print_error(const json &entry, std::FILE *out) {
  std::fprintf(out, "  (child run failed: %s)\n", entry.value("error", std::string()).c_str());
}

}  // namespace

void print_spin_sweep(const RunResult &run, std::FILE *out) {
  if (run.spin_sweep.empty()) return;
  std::fprintf(out,
               "\n== spin-budget sweep (FINESSE_CLIENT_SPIN_US = FINESSE_CLIENT_WAKE_SPIN_US = "
               "FINESSE_SERVER_SPIN_US), no kernel caching, %s source\n",
               run.options.source_parent.empty() ? run.options.storages.front().c_str() : "dir");
  const char *row = "%-8s %-16s %12s %12s %12s %8s %22s\n";
  std::fprintf(out, row, "spin us", "operation", "native us", "fuse us", "bypass us", "removed",
               "CPU us/call fuse / byp");
  for (const json &entry : run.spin_sweep) {
    const std::string spin = std::to_string(entry.value("spin_us", -1));
    if (entry["result"].is_null()) {
      std::fprintf(out, "%-8s", spin.c_str());
      print_error(entry, out);
      continue;
    }
    for (const json &config : entry["result"]["configs"]) {
      for (const json &r : config["results"]) {
        const std::string cpu = us(r["columns"]["fuse"].value("cpu_us_per_call", 0.0)) + " / " +
                                us(r["columns"]["bypass"].value("cpu_us_per_call", 0.0));
        std::fprintf(out, row, spin.c_str(), r.value("op", std::string()).c_str(),
                     us(median_us(r, "native")).c_str(), us(median_us(r, "fuse")).c_str(),
                     us(median_us(r, "bypass")).c_str(), removed(r).c_str(), cpu.c_str());
      }
    }
  }
}

void print_taskset(const RunResult &run, std::FILE *out) {
  if (run.taskset.is_null()) return;
  std::fprintf(out, "\n== per call with finesse-bench and the daemon pinned to CPU %d\n",
               run.taskset.value("cpu", 0));
  if (run.taskset["result"].is_null()) return print_error(run.taskset, out);
  const char *row = "%-16s %-30s %12s %12s %12s %8s %9s  %s\n";
  std::fprintf(out, row, "config", "operation", "native us", "fuse us", "bypass us", "removed",
               "byp/fuse", "target");
  for (const json &config : run.taskset["result"]["configs"]) {
    const std::string key =
        config.value("storage", std::string()) + "/" + config.value("key", std::string());
    for (const json &r : config["results"]) {
      const double fuse = median_us(r, "fuse");
      const std::string target = r["target"].value("kind", std::string()) == "none"
                                     ? "-"
                                     : (r["target"].value("met", false) ? "ok" : "MISS");
      std::fprintf(out, row, key.c_str(), r.value("label", std::string()).c_str(),
                   us(median_us(r, "native")).c_str(), us(fuse).c_str(),
                   us(median_us(r, "bypass")).c_str(), removed(r).c_str(),
                   ratio(fuse > 0 ? median_us(r, "bypass") / fuse : 0).c_str(), target.c_str());
    }
  }
}

}  // namespace finesse::bench
