// The ratios plot: for every storage and mount configuration one panel, for every workload
// two bars: its time through kernel FUSE and through the bypass, relative to native (log
// scale; delete as time per file, i.e. native throughput / throughput).
#include <unistd.h>

#include <fstream>
#include <stdexcept>

#include "child_command.h"
#include "evaluation.h"
#include "report.h"

namespace finesse::bench {
namespace {

struct Bar {
  std::string label;
  double fuse = 0, bypass = 0;  // time / native time
};

std::vector<Bar> bars(const ConfigResult &config) {
  std::vector<Bar> out;
  for (const OpInfo &op : all_ops()) {
    if (!measured(config, op.op)) continue;
    const RowEval r = evaluate(config, op);
    out.push_back({op.key, r.fuse_over_native, r.bypass_over_native});
  }
  for (int threads : kDeleteThreads) {
    if (!config.deletes.contains({Column::kNative, threads})) continue;
    const DeleteEval d = evaluate_delete(config, threads);
    if (d.ratio_to_native[1] <= 0 || d.ratio_to_native[2] <= 0) continue;
    out.push_back({"delete_" + std::to_string(threads) + "t", 1 / d.ratio_to_native[1],
                   1 / d.ratio_to_native[2]});
  }
  for (const AppInfo &app : all_apps()) {
    if (!config.apps.contains({app.app, Column::kNative})) continue;
    const AppEval a = evaluate_app(config, app.app);
    out.push_back({app.key, a.ratio_to_native[1], a.ratio_to_native[2]});
  }
  return out;
}

std::string quoted(const std::string &s) {
  return "\"" + s + "\"";
}

}  // namespace

std::string plot_path(const Options &options) {
  if (!options.plot_path.empty()) return options.plot_path;
  if (!options.json_path.empty()) {
    const std::string &j = options.json_path;
    const size_t dot = j.rfind('.');
    const size_t slash = j.rfind('/');
    const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
    return (has_ext ? j.substr(0, dot) : j) + ".png";
  }
  return "bench-ratios.png";
}

void write_plot(const RunResult &run, const std::string &path, std::FILE *out) {
  std::string gnuplot;
  try {
    gnuplot = find_program("gnuplot");
  } catch (const std::exception &) {
    std::fprintf(out,
                 "\nno plot: gnuplot is not installed (Debian: apt-get install "
                 "gnuplot-nox, or scripts/install-deps.sh)\n");
    return;
  }
  std::vector<std::pair<std::string, std::vector<Bar>>> panels;
  for (const ConfigResult &config : run.configs) {
    auto b = bars(config);
    if (!b.empty()) {
      panels.push_back({config.storage_key + " source, " + config.config.label, std::move(b)});
    }
  }
  if (panels.empty()) return;
  const std::string data = path + ".dat", script = path + ".gp";
  {
    std::ofstream d(data);
    for (const auto &[title, panel] : panels) {
      for (const Bar &b : panel) d << quoted(b.label) << " " << b.fuse << " " << b.bypass << "\n";
      d << "\n\n";
    }
    std::ofstream g(script);
    g << "set terminal pngcairo size 1400," << 360 * panels.size() << " font 'sans,10'\n"
      << "set output " << quoted(path) << "\n"
      << "set multiplot layout " << panels.size() << ",1\n"
      << "set style data histograms\nset style histogram clustered gap 1\n"
      << "set style fill solid 0.8 border -1\nset logscale y\nset grid ytics\n"
      << "set yrange [0.1:*]\nset xtics rotate by -30 noenhanced\nset key top left\n"
      << "set ylabel 'time relative to native (log)'\n";
    for (size_t i = 0; i < panels.size(); ++i) {
      g << "set title " << quoted(panels[i].first) << " noenhanced\n"
        << "plot " << quoted(data) << " index " << i
        << " using 2:xtic(1) title 'kernel FUSE' lc rgb '#c0504d', '' index " << i
        << " using 3 title 'Finesse bypass' lc rgb '#4f81bd', 1 with lines dt 2 lc rgb 'black' "
           "title 'native'\n";
    }
    g << "unset multiplot\n";
  }
  const CommandResult r = run_command({gnuplot, script}, {}, true);
  unlink(data.c_str());
  unlink(script.c_str());
  if (r.ok()) {
    std::fprintf(out, "\nplot: %s\n", path.c_str());
  } else {
    std::fprintf(out, "\nno plot: gnuplot failed: %s\n", r.output.c_str());
  }
}

}  // namespace finesse::bench
