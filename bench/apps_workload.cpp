#include "apps_workload.h"

#include <fcntl.h>
#include <unistd.h>

#include <stdexcept>

#include "child_command.h"
#include "fs_util.h"
#include "process_cpu.h"

namespace finesse::bench {
namespace {

constexpr size_t kFilesPerDir = 50;
constexpr size_t kFileBytes = 100;

std::vector<std::string> app_argv(App app, Column column, const std::string &dir,
                                  const std::string &tarball) {
  switch (app) {
    case App::kTarX:
      return {"tar", "xf", tarball, "-C", dir};
    case App::kFindStat:
      return {"sh", "-c", "find \"$1\" -type f -print0 | xargs -0 stat", "sh", dir};
    case App::kLsR:
      return {"ls", "-lR", dir};
    case App::kDuS:
      return {"du", "-s", dir};
    case App::kGrepR:  // every file matches: grep reads them all and exits 0
      return {"grep", "-r", "xxxx", dir};
    case App::kLsLaR:
      return {"ls", "-laR", dir};
    case App::kFinesseDuS:  // the bypass column's: finesse du -s, every other column's du -s
      if (column == Column::kBypass) return {executable_dir() + "/finesse", "du", "-s", dir};
      return {"du", "-s", dir};
    case App::kRmRf:
      return {"rm", "-rf", dir};
  }
  throw std::logic_error("unknown application");
}

}  // namespace

const std::vector<AppInfo> &all_apps() {
  static const std::vector<AppInfo> apps = {
      {App::kTarX, "tar_x", "tar x"},
      {App::kFindStat, "find_xargs_stat", "find -type f | xargs stat"},
      {App::kLsR, "ls_lR", "ls -lR"},
      {App::kDuS, "du_s", "du -s"},
      {App::kGrepR, "grep_r", "grep -r"},
      {App::kLsLaR, "ls_laR", "ls -laR"},
      {App::kFinesseDuS, "finesse_du_s", "du -s (bypass: finesse du -s)"},
      {App::kRmRf, "rm_rf", "rm -rf"},
  };
  return apps;
}

void make_app_tarball(const std::string &scratch_dir, size_t files, const std::string &tarball) {
  const std::string root = scratch_dir + "/tree";
  make_dir(root);
  const std::string data(kFileBytes, 'x');
  for (size_t i = 0; i < files; ++i) {
    const std::string dir = root + "/d" + std::to_string(i / kFilesPerDir);
    if (i % kFilesPerDir == 0) make_dir(dir);
    const std::string path = dir + "/f" + std::to_string(i);
    const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
      throw std::runtime_error("cannot write " + path);
    }
    close(fd);
  }
  run_checked({"tar", "cf", tarball, "-C", root, "."});
  remove_tree(root);
}

std::map<App, AppSample> measure_apps(Column column, const std::string &view_dir,
                                      const std::string &name, const std::string &tarball,
                                      const std::string &shim, pid_t daemon) {
  const std::string dir = view_dir + "/" + name;
  make_dir(dir);
  std::map<std::string, std::string> env;
  if (column == Column::kBypass) env = shim_env(shim);
  std::map<App, AppSample> out;
  for (const AppInfo &app : all_apps()) {
    const uint64_t server_before = process_cpu_ns(daemon);
    const CommandResult r = run_command(app_argv(app.app, column, dir, tarball), env);
    AppSample &s = out[app.app];
    s.wall_s = r.wall_s;
    s.cpu_s = r.cpu_s;
    s.server_cpu_s = static_cast<double>(process_cpu_ns(daemon) - server_before) / 1e9;
    s.ok = r.ok();
  }
  remove_tree(dir);  // normally rm -rf did it
  return out;
}

}  // namespace finesse::bench
