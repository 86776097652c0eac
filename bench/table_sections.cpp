#include "table_sections.h"

#include <fstream>

#include "evaluation.h"
#include "table_format.h"

namespace finesse::bench {

inline constexpr double kDeleteTarget = 0.8;  // bypass throughput >= 0.8 x native

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("model name")) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

void print_deletes(const RunResult &run, std::FILE *out) {
  for (const ConfigResult &config : run.configs) {
    if (config.deletes.empty()) continue;
    std::fprintf(out,
                 "\n== delete %zu preallocated 4 KB files (dirs of %zu, caches dropped): %s, "
                 "%s source (%s)\n",
                 run.options.files, kDeleteDirWidth, config.config.label.c_str(),
                 config.storage_key.c_str(), config.source_fs.c_str());
    const char *row = "%-8s %-24s %-24s %-24s %8s %8s %24s %8s  %s\n";
    std::fprintf(out, row, "threads", "native files/s", "fuse files/s", "bypass files/s",
                 "fuse/nat", "byp/nat", "CPU us/file nat/fuse/byp", "kernel-", "target");
    std::fprintf(out, row, "", "median [min-max]", "median [min-max]", "median [min-max]", "", "",
                 "", "routed", "");
    for (int threads : kDeleteThreads) {
      if (!config.deletes.contains({Column::kNative, threads})) continue;
      const DeleteEval d = evaluate_delete(config, threads);
      const std::string cpu = us(d.cpu_us_per_file[0]) + " / " + us(d.cpu_us_per_file[1]) + " / " +
                              us(d.cpu_us_per_file[2]);
      const bool met = d.ratio_to_native[2] >= kDeleteTarget;
      const std::string target = std::string(met ? "ok   " : "MISS ") + "byp/nat " +
                                 ratio(d.ratio_to_native[2]) + (met ? " >= 0.8" : " < 0.8");
      std::fprintf(out, row, std::to_string(threads).c_str(), spread(d.files_per_s[0]).c_str(),
                   spread(d.files_per_s[1]).c_str(), spread(d.files_per_s[2]).c_str(),
                   ratio(d.ratio_to_native[1]).c_str(), ratio(d.ratio_to_native[2]).c_str(),
                   cpu.c_str(), std::to_string(d.kernel_routed).c_str(), target.c_str());
    }
  }
}

void print_apps(const RunResult &run, std::FILE *out) {
  for (const ConfigResult &config : run.configs) {
    if (config.apps.empty()) continue;
    std::fprintf(out,
                 "\n== applications on a tree of %zu files (bypass: LD_PRELOAD shim): %s, "
                 "%s source (%s)\n",
                 run.options.app_files, config.config.label.c_str(), config.storage_key.c_str(),
                 config.source_fs.c_str());
    const char *row = "%-26s %-22s %-22s %-22s %8s %8s %8s %24s  %s\n";
    std::fprintf(out, row, "program", "native ms", "fuse ms", "bypass ms", "fuse/nat", "byp/nat",
                 "byp/fuse", "CPU ms nat/fuse/byp", "target");
    for (const AppInfo &app : all_apps()) {
      if (!config.apps.contains({app.app, Column::kNative})) continue;
      const AppEval a = evaluate_app(config, app.app);
      auto ms = [](const Summary &s) {
        return spread({s.median * 1e3, s.min * 1e3, s.max * 1e3, s.q1 * 1e3, s.q3 * 1e3});
      };
      const std::string cpu =
          us(a.cpu_s[0] * 1e3) + " / " + us(a.cpu_s[1] * 1e3) + " / " + us(a.cpu_s[2] * 1e3);
      const bool met = a.bypass_over_fuse <= kAppShimTarget;
      const std::string target = std::string(met ? "ok   " : "MISS ") + "byp/fuse " +
                                 ratio(a.bypass_over_fuse) + (met ? " <= 1.0" : " > 1.0");
      std::fprintf(out, row, app.label, ms(a.seconds[0]).c_str(), ms(a.seconds[1]).c_str(),
                   ms(a.seconds[2]).c_str(), ratio(a.ratio_to_native[1]).c_str(),
                   ratio(a.ratio_to_native[2]).c_str(), ratio(a.bypass_over_fuse).c_str(),
                   cpu.c_str(), target.c_str());
    }
  }
}

}  // namespace finesse::bench
