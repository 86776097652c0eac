#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include <sys/utsname.h>
#include <unistd.h>

#include "evaluation.h"
#include "report.h"
#include "table_sections.h"

namespace finesse::bench {
namespace {

using nlohmann::json;

const char *target_name(TargetKind kind) {
  switch (kind) {
    case TargetKind::kNone:
      return "none";
    case TargetKind::kShareRemoved:
      return "overhead_removed>=0.8";
    case TargetKind::kCachedRatio:
      return "bypass<=1.5*fuse";
  }
  return "?";
}

json column_json(const ColumnEval &c, const std::vector<Sample> &samples) {
  json per_rep = json::array();
  for (const Sample &s : samples) per_rep.push_back(s.us_per_call);
  return {{"median_us", c.us.median},
          {"min_us", c.us.min},
          {"max_us", c.us.max},
          {"q1_us", c.us.q1},
          {"q3_us", c.us.q3},
          {"samples_us", per_rep},
          {"calls", c.calls},
          {"failures", c.failures},
          {"server_cpu_us_per_call", c.server_cpu_us},
          {"client_cpu_us_per_call", c.client_cpu_us},
          {"cpu_us_per_call", c.cpu_us}};
}

json deletes_json(const ConfigResult &config) {
  json out = json::array();
  for (int threads : kDeleteThreads) {
    if (!config.deletes.contains({Column::kNative, threads})) continue;
    const DeleteEval d = evaluate_delete(config, threads);
    json columns, ratios;
    for (Column column : kColumns) {
      const int c = static_cast<int>(column);
      json samples = json::array();
      for (const DeleteSample &s : config.deletes.at({column, threads})) {
        samples.push_back(s.files_per_s);
      }
      columns[column_key(column)] = {{"median_files_per_s", d.files_per_s[c].median},
                                     {"min_files_per_s", d.files_per_s[c].min},
                                     {"max_files_per_s", d.files_per_s[c].max},
                                     {"samples_files_per_s", samples},
                                     {"cpu_us_per_file", d.cpu_us_per_file[c]}};
      ratios[column_key(column)] = d.ratio_to_native[c];
    }
    out.push_back({{"threads", threads},
                   {"columns", columns},
                   {"throughput_over_native", ratios},
                   {"failures", d.failures},
                   {"bypass_kernel_routed", d.kernel_routed},
                   {"bypass_files", d.files}});
  }
  return out;
}

json apps_json(const ConfigResult &config) {
  json out = json::array();
  for (const AppInfo &app : all_apps()) {
    if (!config.apps.contains({app.app, Column::kNative})) continue;
    const AppEval a = evaluate_app(config, app.app);
    json columns, ratios;
    for (Column column : kAppColumns) {
      const int c = static_cast<int>(column);
      if (a.seconds[c].median <= 0) continue;  // (plain: not measured)
      columns[column_key(column)] = {{"median_s", a.seconds[c].median},
                                     {"min_s", a.seconds[c].min},
                                     {"max_s", a.seconds[c].max},
                                     {"cpu_s", a.cpu_s[c]}};
      ratios[column_key(column)] = a.ratio_to_native[c];
    }
    out.push_back({{"app", app.key},
                   {"label", app.label},
                   {"columns", columns},
                   {"time_over_native", ratios},
                   {"bypass_over_fuse", a.bypass_over_fuse},
                   {"attached_over_plain", a.attached_over_plain},
                   {"failed_runs", a.failed_runs}});
  }
  return out;
}

json row_json(const ConfigResult &config, const OpInfo &op) {
  const RowEval r = evaluate(config, op);
  json columns;
  for (Column column : kColumns) {
    auto it = config.samples.find({op.op, column});
    if (it == config.samples.end()) continue;
    columns[column_key(column)] = column_json(r.col[static_cast<int>(column)], it->second);
  }
  return {{"op", op.key},
          {"label", op.label},
          {"bypassable", op.bypassable},
          {"columns", columns},
          {"fuse_over_native", r.fuse_over_native},
          {"bypass_over_native", r.bypass_over_native},
          {"bypass_over_fuse", r.bypass_over_fuse},
          {"overhead_removed", r.has_share ? json(r.share_removed) : json(nullptr)},
          {"bypass_kernel_routed", r.kernel_routed},
          {"bypass_client_kernel_count", r.client_kernel},
          {"target", {{"kind", target_name(r.target)}, {"met", r.target_met}}}};
}

json harm_json(const HarmResult &h) {
  if (h.cases.empty()) return nullptr;
  json cases = json::array();
  for (const HarmCase &c : h.cases) {
    const HarmEval e = evaluate_harm(c);
    cases.push_back({{"key", c.key},
                     {"part", std::string(1, c.group)},
                     {"label", c.label},
                     {"config", c.config},
                     {"variant", c.variant},
                     {"baseline", c.baseline},
                     {"variant_median_s", e.variant_s.median},
                     {"baseline_median_s", e.baseline_s.median},
                     {"ratio_median", e.ratio.median},
                     {"ratio_q1", e.ratio.q1},
                     {"ratio_q3", e.ratio.q3},
                     {"target", c.target},
                     {"met", e.met},
                     {"variant_samples_s", c.variant_s},
                     {"baseline_samples_s", c.baseline_s},
                     {"ratios", c.ratios},
                     {"failed_runs", c.failed_runs},
                     {"bypassed", c.bypassed < 0 ? json(nullptr) : json(c.bypassed)}});
  }
  return {{"storage", h.storage_key}, {"files", h.files},
          {"rounds", h.rounds},       {"one_shot_rounds", kHarmOneShotFactor * h.rounds},
          {"block", h.block},         {"cases", cases},
          {"notes", h.notes}};
}

std::string kernel_release() {
  utsname u{};
  uname(&u);
  return u.release;
}

}  // namespace

void write_json(const RunResult &run, const std::string &path) {
  json configs = json::array();
  for (const ConfigResult &config : run.configs) {
    json rows = json::array();
    for (const OpInfo &op : all_ops()) {
      if (measured(config, op.op)) rows.push_back(row_json(config, op));
    }
    configs.push_back({{"storage", config.storage_key},
                       {"storage_label", config.storage_label},
                       {"source_fs", config.source_fs},
                       {"key", config.config.key},
                       {"label", config.config.label},
                       {"mount_options", config.config.mount_options},
                       {"kernel_caching", config.config.kernel_caching},
                       {"probe_bypassed", config.probe_bypassed},
                       {"results", rows},
                       {"delete", deletes_json(config)},
                       {"apps", apps_json(config)}});
  }
  const json doc = {{"fs_binary", run.fs_binary},
                    {"preload", run.preload_lib},
                    {"shim", run.shim_lib},
                    {"source_dir", run.options.source_parent},
                    {"cpu_model", cpu_model()},
                    {"cpus", sysconf(_SC_NPROCESSORS_ONLN)},
                    {"kernel", kernel_release()},
                    {"quick", run.options.quick},
                    {"pinned_cpu", run.options.pin_cpu},
                    {"ops_per_measurement", run.options.ops},
                    {"delete_files", run.options.files},
                    {"heavy_reps", heavy_reps(run.options)},
                    {"app_files", run.options.app_files},
                    {"reps", run.options.reps},
                    {"seconds", run.seconds},
                    {"load_before", run.load_before},
                    {"load_after", run.load_after},
                    {"configs", configs},
                    {"spin_sweep", run.spin_sweep},
                    {"taskset", run.taskset},
                    {"harm", harm_json(run.harm)},
                    {"problems", problems(run)}};
  std::ofstream out(path);
  out << doc.dump(2) << "\n";
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace finesse::bench
