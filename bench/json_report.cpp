#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "evaluation.h"
#include "report.h"

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
          {"server_cpu_us_per_call", c.server_cpu_us}};
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

}  // namespace

void write_json(const RunResult &run, const std::string &path) {
  json configs = json::array();
  for (const ConfigResult &config : run.configs) {
    json rows = json::array();
    for (const OpInfo &op : all_ops()) {
      if (measured(config, op.op)) rows.push_back(row_json(config, op));
    }
    configs.push_back({{"key", config.config.key},
                       {"label", config.config.label},
                       {"mount_options", config.config.mount_options},
                       {"kernel_caching", config.config.kernel_caching},
                       {"probe_bypassed", config.probe_bypassed},
                       {"results", rows}});
  }
  const json doc = {{"fs_binary", run.fs_binary},
                    {"preload", run.preload_lib},
                    {"source_parent", run.options.source_parent},
                    {"source_fs", run.source_fs},
                    {"ops_per_measurement", run.options.ops},
                    {"reps", run.options.reps},
                    {"seconds", run.seconds},
                    {"load_before", run.load_before},
                    {"load_after", run.load_after},
                    {"configs", configs},
                    {"problems", problems(run)}};
  std::ofstream out(path);
  out << doc.dump(2) << "\n";
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace finesse::bench
