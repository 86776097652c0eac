#include "harm_workload.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>

#include "apps_workload.h"
#include "child_command.h"
#include "fs_util.h"
#include "harm_loading.h"
#include "interrupt.h"
#include "loader.h"
#include "mount_control.h"
#include "process_timing.h"
#include "runner.h"
#include "storage.h"

namespace finesse::bench {
namespace {

constexpr const char *kGrepPattern = "xxxx";  // every file of the tree is 100 'x'

// A work directory on the storage, removed last (after the mounts in it are gone).
class HarmDir {
 public:
  explicit HarmDir(const std::string &parent) : path_(make_temp_dir(parent, "finesse-harm-")) {}
  ~HarmDir() { remove_tree(path_); }
  HarmDir(const HarmDir &) = delete;
  HarmDir &operator=(const HarmDir &) = delete;
  const std::string &path() const { return path_; }

 private:
  std::string path_;
};

int rounds_of(const Options &opt) {
  return 2 * opt.reps;
}

int block_of(const Options &opt) {
  return opt.quick ? 3 : 5;
}

std::vector<const MountConfig *> harm_configs(const Options &opt) {
  std::vector<const MountConfig *> out;
  for (const MountConfig &cfg : mount_configs()) {
    if (config_selected(opt.only_configs, cfg)) out.push_back(&cfg);
  }
  return out;
}

double median(const std::vector<double> &v) {
  return summarize(v).median;
}

// One timed run; a failure is counted, its time kept (the ratio still says something).
double timed(const TimedProgram &program, HarmCase *c) {
  const ProgramRun r = program.run();
  if (!r.ok()) ++c->failed_runs;
  return r.wall_s;
}

// Timed pairs: `rounds` times variant and baseline back to back, the variant first in even
// rounds; `after` (untimed) runs after each timed run. One untimed warm-up of each first.
void interleave(
    HarmCase *c, int rounds, const std::function<double()> &variant,
    const std::function<double()> &baseline, const std::function<void()> &after = [] {}) {
  variant();
  after();
  baseline();
  after();
  c->failed_runs = 0;
  for (int round = 0; round < rounds; ++round) {
    throw_if_interrupted();
    double v = 0, b = 0;
    for (int i = 0; i < 2; ++i) {
      if ((i == 0) == (round % 2 == 0)) {
        v = variant();
      } else {
        b = baseline();
      }
      after();
    }
    c->variant_s.push_back(v);
    c->baseline_s.push_back(b);
    c->ratios.push_back(v / b);
  }
}

// Calls answered over shared memory by the server of `mountpoint` (its control socket); -1
// when it cannot be asked.
long long served_total(const std::string &mountpoint) {
  std::vector<loader::AttachedMount> all;
  if (loader::list_attached(&all).code != loader::kOk) return -1;
  for (const auto &a : all) {
    if (mountpoint != a.entry.mount_path || !a.server_alive) continue;
    long long n = 0;
    for (uint64_t s : a.stats.served) n += static_cast<long long>(s);
    return n;
  }
  return -1;
}

HarmCase make_case(const char *key, char group, std::string label, const std::string &config,
                   const char *variant, const char *baseline, double target) {
  HarmCase c;
  c.key = key;
  c.group = group;
  c.label = std::move(label);
  c.config = config;
  c.variant = variant;
  c.baseline = baseline;
  c.target = target;
  return c;
}

// Everything one mount configuration needs: twin trees, the server's mount (attached) and a
// plain daemon's mount of the twin.
struct Mounts {
  std::string srv_tree, plain_tree;  // the trees as seen through each mount
  std::unique_ptr<DaemonMount> srv, plain;
};

Mounts start_mounts(const std::string &work, const MountConfig &cfg, const HarmBinaries &bin,
                    const std::string &tarball) {
  Mounts m;
  for (const char *which : {"srv", "plain"}) {
    const std::string src = work + "/src-" + which + "-" + cfg.key;
    const std::string mnt = work + "/mnt-" + which + "-" + cfg.key;
    make_dir(src);
    make_dir(src + "/tree");
    make_dir(mnt);
    run_checked({"tar", "xf", tarball, "-C", src + "/tree"});
    const bool server = std::string(which) == "srv";
    const std::map<std::string, std::string> env =
        server ? server_env(cfg, bin.preload_lib) : std::map<std::string, std::string>{};
    auto mount = std::make_unique<DaemonMount>(
        DaemonSpec{daemon_argv(bin.fs_binary, src, mnt, cfg.mount_options),
                   env,
                   mnt,
                   work + "/daemon-" + which + "-" + cfg.key + ".log"});
    (server ? m.srv : m.plain) = std::move(mount);
    (server ? m.srv_tree : m.plain_tree) = mnt + "/tree";
  }
  return m;
}

// (a): Finesse loaded (+ the mount attached) vs not, for programs on the storage itself.
void part_a(const std::string &work, const HarmBinaries &bin, FinesseLoading &loading, int rounds,
            int block, std::vector<HarmCase> *out) {
  const std::string tree = work + "/walk";
  const TimedProgram walk({"find", tree, "-printf", ""});
  const TimedProgram loop({bin.probe, "loop", std::to_string(kHarmLoopCalls), tree + "/d0/f0"});
  HarmCase cw = make_case(
      "walk_find", 'a',
      "find DIR -printf '' (" + std::to_string(kHarmFiles) + " files, not on a Finesse mount)", "",
      "loaded", "not loaded", 1.03);
  HarmCase cl = make_case("open_fstat_close_loop", 'a',
                          "open+fstat+close x" + std::to_string(kHarmLoopCalls) +
                              " (one process, not on a Finesse mount)",
                          "", "loaded", "not loaded", 1.03);
  for (int round = 0; round < rounds; ++round) {
    std::vector<double> w[2], l[2];  // [loaded]
    for (int i = 0; i < 2; ++i) {
      const bool loaded = (i == 0) == (round % 2 == 0);
      if (loaded) {
        loading.load();
      } else {
        loading.unload();
      }
      walk.run();  // warm-up after the change
      loop.run();
      for (int k = 0; k < block; ++k) {
        throw_if_interrupted();
        w[loaded].push_back(timed(walk, &cw));
        l[loaded].push_back(timed(loop, &cl));
      }
    }
    for (int s = 0; s < 2; ++s) {
      for (double v : w[s]) (s ? cw.variant_s : cw.baseline_s).push_back(v);
      for (double v : l[s]) (s ? cl.variant_s : cl.baseline_s).push_back(v);
    }
    cw.ratios.push_back(median(w[1]) / median(w[0]));
    cl.ratios.push_back(median(l[1]) / median(l[0]));
  }
  loading.load();  // the other parts need the mount attached
  out->push_back(std::move(cw));
  out->push_back(std::move(cl));
}

// (b): the shim vs none. /bin/true only once (config empty), on no mount.
void part_b(const Mounts &m, const MountConfig &cfg, const HarmBinaries &bin, int rounds,
            bool first_config, std::vector<HarmCase> *out) {
  const std::map<std::string, std::string> shim = shim_env(bin.shim_lib);
  const std::string mnt = m.srv->mountpoint();
  if (first_config) {
    const TimedProgram with({"true"}, shim), without({"true"});
    HarmCase c = make_case("true", 'b', "true (a process that makes no file-system call)", "",
                           "shim", "no shim", 1.05);
    interleave(
        &c, rounds * kHarmOneShotFactor, [&] { return timed(with, &c); },
        [&] { return timed(without, &c); });
    out->push_back(std::move(c));
  }
  {
    const std::string file = m.srv_tree + "/d0/f0";
    const TimedProgram with({bin.probe, "stat", file}, shim), without({bin.probe, "stat", file});
    HarmCase c = make_case("one_stat", 'b', "a process making one stat on the attached mount",
                           cfg.key, "shim", "kernel FUSE", 1.0);
    const long long before = served_total(mnt);
    interleave(
        &c, rounds * kHarmOneShotFactor, [&] { return timed(with, &c); },
        [&] { return timed(without, &c); });
    c.bypassed = before < 0 ? -1 : served_total(mnt) - before;
    out->push_back(std::move(c));
  }
  {
    const std::string dir = mnt + "/mv";
    make_dir(dir);
    close(open((dir + "/a").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    const std::string script = "i=0; while [ $i -lt " + std::to_string(kHarmMvPairs) +
                               " ]; do mv \"$1/a\" \"$1/b\" && mv \"$1/b\" \"$1/a\" || exit 1; "
                               "i=$((i+1)); done";
    const TimedProgram with({"sh", "-c", script, "sh", dir}, shim),
        without({"sh", "-c", script, "sh", dir});
    HarmCase c = make_case("mv_loop", 'b',
                           "sh loop of " + std::to_string(2 * kHarmMvPairs) +
                               " mv (rename back and forth) on the attached mount",
                           cfg.key, "shim", "kernel FUSE", 1.0);
    const long long before = served_total(mnt);
    interleave(
        &c, rounds, [&] { return timed(with, &c); }, [&] { return timed(without, &c); });
    c.bypassed = before < 0 ? -1 : served_total(mnt) - before;
    remove_tree(dir);
    out->push_back(std::move(c));
  }
}

// (c): the kernel path through the server's mount (attached) vs a plain daemon's, no shim.
void part_c(const Mounts &m, const MountConfig &cfg, const std::string &tarball, int rounds,
            std::vector<HarmCase> *out) {
  struct Program {
    const char *key, *label;
    std::vector<std::string> args;  // the tree's path is appended
  };
  const Program programs[] = {
      {"ls_lR", "ls -lR", {"ls", "-lR"}},
      {"du_s", "du -s", {"du", "-s"}},
      {"find", "find DIR -printf ''", {"find"}},
      {"grep_r", "grep -r", {"grep", "-r", kGrepPattern}},
  };
  for (const Program &p : programs) {
    auto on = [&](const std::string &tree) {
      auto args = p.args;
      args.push_back(tree);
      if (std::string(p.key) == "find") args.insert(args.end(), {"-printf", ""});
      return args;
    };
    const TimedProgram srv(on(m.srv_tree)), plain(on(m.plain_tree));
    HarmCase c =
        make_case(p.key, 'c', std::string(p.label) + " (" + std::to_string(kHarmFiles) + " files)",
                  cfg.key, "server", "plain daemon", 1.02);
    interleave(
        &c, rounds, [&] { return timed(srv, &c); }, [&] { return timed(plain, &c); });
    out->push_back(std::move(c));
  }
  // tar x into a fresh directory of each mount, removed through the mount after each run (the
  // kernel then forgets the inodes, and the passthrough closes its fds).
  const std::string srv_x = m.srv->mountpoint() + "/x", plain_x = m.plain->mountpoint() + "/x";
  const TimedProgram srv({"tar", "xf", tarball, "-C", srv_x}),
      plain({"tar", "xf", tarball, "-C", plain_x});
  HarmCase c = make_case("tar_x", 'c', "tar x (" + std::to_string(kHarmFiles) + " files)", cfg.key,
                         "server", "plain daemon", 1.02);
  make_dir(srv_x);
  make_dir(plain_x);
  auto fresh = [](const std::string &dir) {
    remove_tree(dir);
    make_dir(dir);
  };
  interleave(
      &c, rounds, [&] { return timed(srv, &c); }, [&] { return timed(plain, &c); },
      [&] {
        fresh(srv_x);
        fresh(plain_x);
      });
  remove_tree(srv_x);
  remove_tree(plain_x);
  out->push_back(std::move(c));
}

// (d): the applications through the shim vs kernel FUSE on the attached mount; each round runs
// the whole sequence in both columns, the order alternating.
void part_d(const Mounts &m, const MountConfig &cfg, const HarmBinaries &bin,
            const std::string &tarball, int rounds, std::vector<HarmCase> *out) {
  const std::string mnt = m.srv->mountpoint();
  const pid_t daemon = m.srv->pid();
  std::map<App, HarmCase> cases;
  for (const AppInfo &app : all_apps()) {
    cases[app.app] = make_case(
        app.key, 'd', std::string(app.label) + " (" + std::to_string(kHarmFiles) + " files)",
        cfg.key, "shim", "kernel FUSE", 1.0);
  }
  auto sequence = [&](Column column, int round) {
    const std::string name = std::string("apps-") + column_key(column) + std::to_string(round);
    return measure_apps(column, mnt, name, tarball, bin.shim_lib, daemon);
  };
  sequence(Column::kFuse, -1);  // warm-up
  const long long before = served_total(mnt);
  for (int round = 0; round < rounds; ++round) {
    throw_if_interrupted();
    std::map<App, AppSample> fuse, shim;
    for (int i = 0; i < 2; ++i) {
      if ((i == 0) == (round % 2 == 0)) {
        shim = sequence(Column::kBypass, round);
      } else {
        fuse = sequence(Column::kFuse, round);
      }
    }
    for (auto &[app, c] : cases) {
      c.variant_s.push_back(shim[app].wall_s);
      c.baseline_s.push_back(fuse[app].wall_s);
      c.ratios.push_back(shim[app].wall_s / fuse[app].wall_s);
      c.failed_runs += !shim[app].ok + !fuse[app].ok;
    }
  }
  const long long after = served_total(mnt);
  for (const AppInfo &app : all_apps()) {
    HarmCase &c = cases[app.app];
    c.bypassed = before < 0 || after < 0 ? -1 : after - before;
    out->push_back(std::move(c));
  }
}

}  // namespace

HarmEval evaluate_harm(const HarmCase &c) {
  HarmEval e;
  e.variant_s = summarize(c.variant_s);
  e.baseline_s = summarize(c.baseline_s);
  e.ratio = summarize(c.ratios);
  e.met = !c.ratios.empty() && e.ratio.median <= c.target;
  return e;
}

size_t harm_steps(const Options &options) {
  return 1 + 3 * harm_configs(options).size();
}

HarmResult run_harm(const Options &options, const HarmBinaries &bin, Progress &progress) {
  HarmResult result;
  result.rounds = rounds_of(options);
  result.block = block_of(options);
  result.files = kHarmFiles;
  result.storage_key = options.source_parent.empty() ? options.storages.front() : "dir";
  Storage storage(result.storage_key, 4 * kHarmFiles, options.source_parent);
  HarmDir work(storage.path());
  const std::string tarball = work.path() + "/tree.tar";
  make_app_tarball(work.path(), kHarmFiles, tarball);
  make_dir(work.path() + "/walk");
  run_checked({"tar", "xf", tarball, "-C", work.path() + "/walk"});
  bool first = true;
  for (const MountConfig *cfg : harm_configs(options)) {
    throw_if_interrupted();
    const Mounts m = start_mounts(work.path(), *cfg, bin, tarball);
    FinesseLoading loading(m.srv->mountpoint());
    const std::string where = "do no harm, " + cfg->key + ": ";
    if (first) {
      progress.step(where + "(a) Finesse loaded vs unloaded");
      part_a(work.path(), bin, loading, result.rounds, result.block, &result.cases);
    }
    loading.load();
    progress.step(where + "(b) shim vs none");
    part_b(m, *cfg, bin, result.rounds, first, &result.cases);
    progress.step(where + "(c) server vs plain daemon");
    part_c(m, *cfg, tarball, result.rounds, &result.cases);
    progress.step(where + "(d) applications, shim vs kernel FUSE");
    part_d(m, *cfg, bin, tarball, result.rounds, &result.cases);
    first = false;
  }
  return result;
}

}  // namespace finesse::bench
