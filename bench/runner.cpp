#include "runner.h"

#include <limits.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "bypass_attachment.h"
#include "finesse/finesse.h"
#include "fs_util.h"
#include "interrupt.h"
#include "mount_control.h"
#include "progress.h"
#include "storage.h"
#include "sub_runs.h"

namespace finesse::bench {
namespace {

// Removes the work directory last, after the mounts in it are gone.
class WorkDir {
 public:
  explicit WorkDir(const std::string &parent) : path_(make_temp_dir(parent, "finesse-bench-")) {}
  ~WorkDir() { remove_tree(path_); }
  WorkDir(const WorkDir &) = delete;
  WorkDir &operator=(const WorkDir &) = delete;
  const std::string &path() const { return path_; }

 private:
  std::string path_;
};

std::string canonical_file(const std::string &path, int mode, const char *what) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr || access(resolved, mode) != 0) {
    throw std::runtime_error(std::string("cannot find ") + what + " at " + path +
                             " (build it, or pass its path)");
  }
  return resolved;
}

std::string fs_type_name(const std::string &dir) {
  struct statfs sfs {};
  if (statfs(dir.c_str(), &sfs) != 0) return "unknown";
  switch (static_cast<unsigned long>(sfs.f_type)) {
    case 0x01021994UL:
      return "tmpfs";
    case 0xEF53UL:
      return "ext4";
    case 0x58465342UL:
      return "xfs";
    case 0x9123683EUL:
      return "btrfs";
    default: {
      char hex[32];
      std::snprintf(hex, sizeof(hex), "0x%lx", static_cast<unsigned long>(sfs.f_type));
      return hex;
    }
  }
}

double load_average() {
  double load = 0;
  if (std::FILE *f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = 0;
    std::fclose(f);
  }
  return load;
}

// A finesse_stat on a fresh directory of the mount, to warn at once if nothing is bypassed.
bool probe_bypass(const std::string &mnt) {
  const std::string probe = mnt + "/probe";
  make_dir(probe);
  struct stat st;
  const bool ok =
      finesse_stat(probe.c_str(), &st) == 0 && finesse_last_route() == FINESSE_ROUTE_BYPASS;
  rmdir(probe.c_str());
  return ok;
}

// With few, long repetitions, each column goes first once: a drift within a repetition (a
// neighbour starting to compile) then does not always hit the same column.
template <size_t N>
std::vector<Column> rotated_columns(int rep, const Column (&columns)[N]) {
  std::vector<Column> out;
  for (size_t i = 0; i < N; ++i) out.push_back(columns[(i + static_cast<size_t>(rep)) % N]);
  return out;
}

bool suite_on(const Options &opt, const char *suite) {
  return std::find(opt.suites.begin(), opt.suites.end(), suite) != opt.suites.end();
}

template <typename Item>
bool selected(const std::vector<std::string> &only, const Item &item) {
  return only.empty() || std::find(only.begin(), only.end(), item.key) != only.end();
}

// Unknown names in --only / --config are usage errors, not silently empty tables.
template <typename Item>
void check_names(const std::vector<std::string> &only, const std::vector<Item> &items,
                 const char *what) {
  for (const auto &name : only) {
    const bool known =
        std::any_of(items.begin(), items.end(), [&](const Item &item) { return name == item.key; });
    if (!known) throw std::runtime_error(std::string("unknown ") + what + " '" + name + "'");
  }
}

void run_config(const RunResult &run, const std::string &work, const std::string &tarball,
                Progress &progress, ConfigResult *out) {
  const Options &opt = run.options;
  const MountConfig &cfg = out->config;
  const std::string src = work + "/src-" + cfg.key, mnt = work + "/mnt-" + cfg.key;
  make_dir(src);
  make_dir(mnt);
  DaemonMount mount({daemon_argv(run.fs_binary, src, mnt, cfg.mount_options),
                     server_env(cfg, run.preload_lib), mnt, work + "/daemon-" + cfg.key + ".log"});
  BypassAttachment attachment(mnt);
  out->probe_bypassed = probe_bypass(mnt);
  if (!out->probe_bypassed) {
    std::fprintf(stderr, "finesse-bench: WARNING: the bypass does not answer on %s (%s)\n",
                 mnt.c_str(), cfg.label.c_str());
  }
  const pid_t daemon = mount.pid();
  const std::string where = out->storage_key + "/" + cfg.key;
  if (suite_on(opt, "ops")) {
    for (int rep = 0; rep < opt.reps; ++rep) {
      for (const OpInfo &op : all_ops()) {
        if (!selected(opt.only_ops, op)) continue;
        for (Column column : kColumns) {
          throw_if_interrupted();
          progress.step(where + "  rep " + std::to_string(rep + 1) + "/" +
                        std::to_string(opt.reps) + "  " + op.label + "  " + column_key(column));
          // A fresh directory per measurement, made the way the column's calls see the tree.
          const std::string sub =
              "/r" + std::to_string(rep) + "-" + op.key + "-" + column_key(column);
          const std::string dir = (column == Column::kNative ? src : mnt) + sub;
          make_dir(dir);
          out->samples[{op.op, column}].push_back(measure(op.op, column, dir, opt.ops, daemon));
          // Through the mount for the mount columns: the kernel then forgets the inodes and
          // the passthrough closes the O_PATH fd it keeps per inode (its fd limit cannot be
          // raised here, and a run creates more files than it allows). Then natively.
          if (column != Column::kNative) remove_tree(dir);
          remove_tree(src + sub);
        }
      }
    }
  }
  if (suite_on(opt, "delete")) {
    for (int rep = 0; rep < heavy_reps(opt); ++rep) {
      for (int threads : kDeleteThreads) {
        for (Column column : rotated_columns(rep, kColumns)) {
          throw_if_interrupted();
          progress.step(where + "  rep " + std::to_string(rep + 1) + "  delete " +
                        std::to_string(opt.files) + " files, " + std::to_string(threads) +
                        " thread(s)  " + column_key(column));
          const std::string name = "del-r" + std::to_string(rep) + "-t" + std::to_string(threads) +
                                   "-" + column_key(column);
          out->deletes[{column, threads}].push_back(
              measure_delete(column, src, column == Column::kNative ? src : mnt, name, opt.files,
                             threads, daemon));
        }
      }
    }
  }
  if (suite_on(opt, "apps")) {
    // Kernel FUSE without Finesse: the same daemon on a twin source, without the server.
    const std::string plain_src = work + "/plain-src-" + cfg.key,
                      plain_mnt = work + "/plain-mnt-" + cfg.key;
    make_dir(plain_src);
    make_dir(plain_mnt);
    DaemonMount plain({daemon_argv(run.fs_binary, plain_src, plain_mnt, cfg.mount_options),
                       {},
                       plain_mnt,
                       work + "/plain-daemon-" + cfg.key + ".log"});
    for (int rep = 0; rep < heavy_reps(opt); ++rep) {
      for (Column column : rotated_columns(rep, kAppColumns)) {
        throw_if_interrupted();
        progress.step(where + "  rep " + std::to_string(rep + 1) + "  applications  " +
                      column_key(column));
        const std::string name = "app-r" + std::to_string(rep) + "-" + column_key(column);
        const bool is_plain = column == Column::kPlain;
        const std::string view = column == Column::kNative ? src : is_plain ? plain_mnt : mnt;
        auto samples = measure_apps(column, view, name, tarball, run.shim_lib,
                                    is_plain ? plain.pid() : daemon);
        for (const auto &[app, sample] : samples) out->apps[{app, column}].push_back(sample);
        remove_tree((is_plain ? plain_src : src) + "/" + name);
      }
    }
  }
}

}  // namespace

bool config_selected(const std::vector<std::string> &only, const MountConfig &cfg) {
  if (only.empty()) return !cfg.kernel_no_open;
  return std::find(only.begin(), only.end(), cfg.key) != only.end();
}

std::map<std::string, std::string> server_env(const MountConfig &cfg,
                                              const std::string &preload_lib) {
  std::map<std::string, std::string> env = {{"LD_PRELOAD", preload_lib}};
  if (cfg.kernel_no_open) env["FINESSE_KERNEL_NO_OPEN"] = "1";
  return env;
}

const std::vector<MountConfig> &mount_configs() {
  static const std::vector<MountConfig> configs = {
      {"cached", "default kernel caching (entry/attr timeout 1 s)",
       "entry_timeout=1,attr_timeout=1", true},
      {"uncached", "no kernel caching (entry/attr timeout 0)", "entry_timeout=0,attr_timeout=0",
       false},
      {"no-open",
       "default caching, default_permissions, kernel opens without a round trip "
       "(FINESSE_KERNEL_NO_OPEN=1)",
       "entry_timeout=1,attr_timeout=1,default_permissions", true, true},
  };
  return configs;
}

int heavy_reps(const Options &options) {
  return std::min(options.reps, kHeavyReps);
}

RunResult run_benchmark(const Options &options) {
  const auto start = std::chrono::steady_clock::now();
  RunResult run;
  run.options = options;
  const std::string here = executable_dir();
  run.fs_binary =
      canonical_file(options.fs_binary.empty() ? here + "/finesse-passthrough" : options.fs_binary,
                     X_OK, "the file system daemon");
  run.preload_lib = canonical_file(
      options.preload_lib.empty() ? here + "/../lib/libfinesse_fuse.so" : options.preload_lib, R_OK,
      "the server library");
  run.shim_lib = canonical_file(here + "/../lib/libfinesse_preload.so", R_OK, "the shim");
  const std::string probe =
      suite_on(options, "harm")
          ? canonical_file(here + "/finesse-bench-probe", X_OK, "finesse-bench-probe")
          : "";
  check_names(options.only_ops, all_ops(), "operation");
  check_names(options.only_configs, mount_configs(), "mount configuration");
  size_t ops = 0, configs = 0;
  for (const OpInfo &op : all_ops()) ops += selected(options.only_ops, op);
  for (const MountConfig &cfg : mount_configs())
    configs += config_selected(options.only_configs, cfg);

  std::vector<std::string> storages = options.storages;
  if (!options.source_parent.empty()) storages = {"dir"};
  for (const auto &key : storages) {
    if (key != "dir" && std::none_of(storage_kinds().begin(), storage_kinds().end(),
                                     [&](const StorageKind &k) { return key == k.key; })) {
      throw std::runtime_error("unknown storage '" + key + "' (ext4ram, tmpfs, rootdisk)");
    }
  }
  const size_t reps = static_cast<size_t>(options.reps);
  const size_t heavy = static_cast<size_t>(heavy_reps(options));
  const size_t per_config = (suite_on(options, "ops") ? reps * ops * std::size(kColumns) : 0) +
                            (suite_on(options, "delete") ? heavy * 2 * std::size(kColumns) : 0) +
                            (suite_on(options, "apps") ? heavy * std::size(kAppColumns) : 0);
  const size_t sub_runs = (suite_on(options, "spin") ? spin_settings().size() : 0) +
                          (suite_on(options, "taskset") ? 1 : 0) +
                          (suite_on(options, "harm") ? harm_steps(options) : 0);
  run.load_before = load_average();
  Progress progress(storages.size() * configs * per_config + sub_runs);
  const bool per_storage_suites =
      suite_on(options, "ops") || suite_on(options, "delete") || suite_on(options, "apps");
  for (const std::string &key : per_storage_suites ? storages : std::vector<std::string>{}) {
    throw_if_interrupted();
    Storage storage(key, options.files, options.source_parent);
    WorkDir work(storage.path());
    std::string tarball;
    if (suite_on(options, "apps")) {
      tarball = work.path() + "/tree.tar";
      make_app_tarball(work.path(), options.app_files, tarball);
    }
    for (const MountConfig &cfg : mount_configs()) {
      if (!config_selected(options.only_configs, cfg)) continue;
      ConfigResult result;
      result.config = cfg;
      result.storage_key = key;
      result.storage_label = storage.label();
      result.source_fs = fs_type_name(work.path());
      run_config(run, work.path(), tarball, progress, &result);
      run.configs.push_back(std::move(result));
    }
  }
  if (suite_on(options, "spin")) run.spin_sweep = run_spin_sweep(options, progress);
  if (suite_on(options, "taskset")) run.taskset = run_taskset(options, progress);
  if (suite_on(options, "harm")) {
    run.harm = run_harm(options, {run.fs_binary, run.preload_lib, run.shim_lib, probe}, progress);
  }
  progress.clear();
  run.load_after = load_average();
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return run;
}

}  // namespace finesse::bench
