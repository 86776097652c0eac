#include "sub_runs.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <string>

#include "child_command.h"
#include "fs_util.h"
#include "interrupt.h"

namespace finesse::bench {
namespace {

using nlohmann::json;

// Children repeat less than the main run: they are the secondary figures.
constexpr int kChildReps = 3;

// The child's command line: this run's sizes and binaries, one storage, the ops suite only.
std::vector<std::string> child_args(const Options &opt, const std::string &json_path) {
  std::vector<std::string> args = {executable_dir() + "/finesse-bench",
                                   "--suite",
                                   "ops",
                                   "--ops",
                                   std::to_string(opt.ops),
                                   "--reps",
                                   std::to_string(std::min(opt.reps, kChildReps)),
                                   "--json",
                                   json_path};
  if (!opt.source_parent.empty()) {
    args.insert(args.end(), {"--source-dir", opt.source_parent});
  } else {
    args.insert(args.end(), {"--storage", opt.storages.front()});
  }
  if (!opt.fs_binary.empty()) args.insert(args.end(), {"--fs-binary", opt.fs_binary});
  if (!opt.preload_lib.empty()) args.insert(args.end(), {"--preload", opt.preload_lib});
  return args;
}

// Runs the child; fills "result" with its JSON, or "error" with why there is none.
void run_child(std::vector<std::string> args, const std::map<std::string, std::string> &env,
               const std::string &json_path, json *entry) {
  const CommandResult r = run_command(args, env, true);
  throw_if_interrupted();
  std::ifstream in(json_path);
  // Status 4: the child ran but flagged problems, which its JSON lists.
  if (in && (r.ok() || (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 4))) {
    (*entry)["result"] = json::parse(in, nullptr, false);
  } else {
    (*entry)["result"] = nullptr;
    (*entry)["error"] = r.output;
  }
  unlink(json_path.c_str());
}

std::string temp_json() {
  char templ[] = "/tmp/finesse-bench-childXXXXXX";
  const int fd = mkstemp(templ);
  if (fd >= 0) close(fd);
  return templ;
}

}  // namespace

const std::vector<int> &spin_settings() {
  static const std::vector<int> settings = {0, 5, 50, 200};
  return settings;
}

json run_spin_sweep(const Options &options, Progress &progress) {
  json out = json::array();
  for (int spin : spin_settings()) {
    progress.step("spin-budget sweep: " + std::to_string(spin) + " us (child run)");
    const std::string path = temp_json();
    auto args = child_args(options, path);
    args.insert(args.end(), {"--only", kSpinOps, "--config", kSpinConfig});
    const std::string us = std::to_string(spin);
    json entry = {{"spin_us", spin}};
    run_child(args,
              {{"FINESSE_CLIENT_SPIN_US", us},
               {"FINESSE_CLIENT_WAKE_SPIN_US", us},
               {"FINESSE_SERVER_SPIN_US", us}},
              path, &entry);
    out.push_back(entry);
  }
  return out;
}

json run_taskset(const Options &options, Progress &progress) {
  progress.step("per-operation suite pinned to CPU " + std::to_string(kPinnedCpu) + " (child run)");
  const std::string path = temp_json();
  auto args = child_args(options, path);
  args.insert(args.end(), {"--pin-cpu", std::to_string(kPinnedCpu)});
  if (!options.only_ops.empty()) {
    std::string only;
    for (const auto &op : options.only_ops) only += (only.empty() ? "" : ",") + op;
    args.insert(args.end(), {"--only", only});
  }
  json entry = {{"cpu", kPinnedCpu}};
  run_child(args, {}, path, &entry);
  return entry;
}

}  // namespace finesse::bench
