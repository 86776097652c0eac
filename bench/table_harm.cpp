// The do-no-harm table (harm_workload.h): one row per case, the two variants' median wall times,
// the median over rounds of their ratio with its quartiles, and the target.
#include <cstdio>
#include <string>

#include "table_format.h"
#include "table_sections.h"

namespace finesse::bench {
namespace {

std::string ratio3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3fx", v);
  return buf;
}

std::string ms(double seconds) {
  return us(seconds * 1e3);
}

}  // namespace

void print_harm(const RunResult &run, std::FILE *out) {
  const HarmResult &h = run.harm;
  if (h.cases.empty()) return;
  std::fprintf(out,
               "\n== do no harm (issue 14): whole-process wall times, interleaved; ratio = median "
               "over rounds of variant / baseline\n   %s storage, trees of %zu files; %d rounds "
               "((b)'s single-call processes: %d; (a): blocks of %d runs per state)\n",
               h.storage_key.c_str(), h.files, h.rounds, kHarmOneShotFactor * h.rounds, h.block);
  const char *row = "%-3s %-62s %-8s %-24s %11s %11s %-26s %9s  %s\n";
  std::fprintf(out, row, "", "case", "config", "variant / baseline", "variant ms", "baseline ms",
               "ratio median [q1-q3]", "bypassed", "target");
  for (const HarmCase &c : h.cases) {
    const HarmEval e = evaluate_harm(c);
    const std::string part = std::string("(") + c.group + ")";
    const std::string versus = c.variant + " / " + c.baseline;
    const std::string spread_text =
        ratio3(e.ratio.median) + " [" + ratio3(e.ratio.q1) + "-" + ratio3(e.ratio.q3) + "]";
    char target[64];
    std::snprintf(target, sizeof(target), "%s <= %.2fx%s", e.met ? "ok  " : "MISS", c.target,
                  c.failed_runs != 0 ? "  (failed runs!)" : "");
    std::fprintf(out, row, part.c_str(), c.label.c_str(), c.config.empty() ? "-" : c.config.c_str(),
                 versus.c_str(), ms(e.variant_s.median).c_str(), ms(e.baseline_s.median).c_str(),
                 spread_text.c_str(), c.bypassed < 0 ? "-" : std::to_string(c.bypassed).c_str(),
                 target);
  }
  std::fprintf(out,
               "(a) loaded: BPF programs loaded and the mount attached (finesse-loader attach); "
               "not loaded: finesse-loader unload.\n"
               "(b) shim: LD_PRELOAD=libfinesse_preload.so. (c) server: the daemon under "
               "libfinesse_fuse.so, attached; plain daemon: the same\n"
               "    file system without it, on a twin tree; no shim. (d) the applications "
               "suite on the attached mount, shim vs kernel FUSE.\n"
               "bypassed: calls the server answered over shared memory during the case "
               "((d): during all its applications).\n");
  for (const auto &note : h.notes) std::fprintf(out, "note: %s\n", note.c_str());
}

}  // namespace finesse::bench
