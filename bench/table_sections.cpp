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
    std::fprintf(out,
                 "(plain: kernel FUSE without Finesse, a twin daemon; fuse: the kernel path with "
                 "the server attached, no shim)\n");
    const char *row = "%-26s %-22s %-22s %-22s %-22s %8s %8s %8s %8s %30s  %s\n";
    std::fprintf(out, row, "program", "native ms", "plain ms", "fuse ms", "bypass ms", "fuse/nat",
                 "byp/nat", "fuse/pln", "byp/fuse", "CPU ms nat/pln/fuse/byp", "targets");
    for (const AppInfo &app : all_apps()) {
      if (!config.apps.contains({app.app, Column::kNative})) continue;
      const AppEval a = evaluate_app(config, app.app);
      auto ms = [](const Summary &s) {
        return spread({s.median * 1e3, s.min * 1e3, s.max * 1e3, s.q1 * 1e3, s.q3 * 1e3});
      };
      const int nat = static_cast<int>(Column::kNative), pln = static_cast<int>(Column::kPlain),
                fuse = static_cast<int>(Column::kFuse), byp = static_cast<int>(Column::kBypass);
      const std::string cpu = us(a.cpu_s[nat] * 1e3) + " / " + us(a.cpu_s[pln] * 1e3) + " / " +
                              us(a.cpu_s[fuse] * 1e3) + " / " + us(a.cpu_s[byp] * 1e3);
      auto verdict = [](const char *what, double r, double goal) {
        const bool met = r <= goal;
        return std::string(met ? "ok " : "MISS ") + what + " " + ratio(r) + (met ? " <= " : " > ") +
               ratio(goal);
      };
      std::string targets = verdict("byp/fuse", a.bypass_over_fuse, kAppShimTarget);
      if (a.attached_over_plain > 0)
        targets += ", " + verdict("fuse/pln", a.attached_over_plain, kAttachedTarget);
      std::fprintf(out, row, app.label, ms(a.seconds[nat]).c_str(), ms(a.seconds[pln]).c_str(),
                   ms(a.seconds[fuse]).c_str(), ms(a.seconds[byp]).c_str(),
                   ratio(a.ratio_to_native[fuse]).c_str(), ratio(a.ratio_to_native[byp]).c_str(),
                   ratio(a.attached_over_plain).c_str(), ratio(a.bypass_over_fuse).c_str(),
                   cpu.c_str(), targets.c_str());
    }
  }
}

}  // namespace finesse::bench
