#include "evaluation.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace finesse::bench {
namespace {

ColumnEval evaluate_column(const std::vector<Sample> &samples) {
  ColumnEval c;
  std::vector<double> us, cpu;
  for (const Sample &s : samples) {
    us.push_back(s.us_per_call);
    cpu.push_back(static_cast<double>(s.server_cpu_ns) / 1e3 / static_cast<double>(s.calls));
    c.calls += s.calls;
    if (s.failures != 0 && c.failures == 0) c.first_errno = s.first_errno;
    c.failures += s.failures;
  }
  c.us = summarize(us);
  c.server_cpu_us = summarize(cpu).median;
  return c;
}

std::string format(const char *fmt, double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, value);
  return buf;
}

}  // namespace

RowEval evaluate(const ConfigResult &config, const OpInfo &op) {
  RowEval r;
  r.op = &op;
  for (Column column : kColumns) {
    auto it = config.samples.find({op.op, column});
    if (it == config.samples.end()) continue;
    r.col[static_cast<int>(column)] = evaluate_column(it->second);
    if (column == Column::kBypass && op.bypassable) {
      for (const Sample &s : it->second) {
        r.kernel_routed += s.kernel_routed;
        r.client_kernel += s.client_kernel;
      }
    }
  }
  const double native = r.col[0].us.median, fuse = r.col[1].us.median, bypass = r.col[2].us.median;
  if (native > 0) {
    r.fuse_over_native = fuse / native;
    r.bypass_over_native = bypass / native;
  }
  if (fuse > 0) r.bypass_over_fuse = bypass / fuse;
  r.has_share = overhead_removed(native, fuse, bypass, &r.share_removed);

  const bool stat_like = op.op == Op::kStatHit || op.op == Op::kAccess;
  if (!op.bypassable) {
    r.target = TargetKind::kNone;
    r.target_text = "- (not bypassed)";
  } else if (stat_like && config.config.kernel_caching) {
    r.target = TargetKind::kCachedRatio;
    r.target_met = r.bypass_over_fuse <= kCachedRatioTarget;
    r.target_text = (r.target_met ? "ok   " : "MISS ") +
                    format("byp/fuse %.2fx ", r.bypass_over_fuse) +
                    (r.target_met ? "<=1.5x" : ">1.5x");
  } else {
    r.target = TargetKind::kShareRemoved;
    r.target_met = r.has_share && r.share_removed >= kShareTarget;
    r.target_text =
        (r.target_met ? "ok   " : "MISS ") +
        (r.has_share ? format("removed %.2f ", r.share_removed) + (r.target_met ? ">=0.8" : "<0.8")
                     : std::string("no FUSE overhead to remove"));
  }
  return r;
}

std::vector<std::string> problems(const RunResult &run) {
  std::vector<std::string> out;
  char line[512];
  for (const ConfigResult &config : run.configs) {
    if (!config.probe_bypassed) {
      out.push_back("[" + config.config.key +
                    "] a finesse_stat right after attaching did not take the bypass");
    }
    for (const OpInfo &op : all_ops()) {
      if (!measured(config, op.op)) continue;
      const RowEval r = evaluate(config, op);
      const uint64_t routed = std::max(r.kernel_routed, r.client_kernel);
      if (routed != 0) {
        std::snprintf(line, sizeof(line),
                      "[%s] %s: %llu of %llu bypass-column calls went to the KERNEL "
                      "(finesse_last_route: %llu, client counters: %llu) - that column is NOT "
                      "a bypass measurement",
                      config.config.key.c_str(), op.label, static_cast<unsigned long long>(routed),
                      static_cast<unsigned long long>(r.col[2].calls),
                      static_cast<unsigned long long>(r.kernel_routed),
                      static_cast<unsigned long long>(r.client_kernel));
        out.push_back(line);
      }
      for (Column column : kColumns) {
        const ColumnEval &c = r.col[static_cast<int>(column)];
        if (c.failures == 0) continue;
        std::snprintf(line, sizeof(line),
                      "[%s] %s, %s column: %llu of %llu calls did not return as expected "
                      "(first: %s)",
                      config.config.key.c_str(), op.label, column_key(column),
                      static_cast<unsigned long long>(c.failures),
                      static_cast<unsigned long long>(c.calls), std::strerror(c.first_errno));
        out.push_back(line);
      }
    }
  }
  return out;
}

}  // namespace finesse::bench
