#include "child_command.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "daemon_process.h"
#include "fs_util.h"

namespace finesse::bench {
namespace {

double seconds(const timeval &tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

}  // namespace

bool CommandResult::ok() const {
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::string find_program(const std::string &name) {
  if (name.find('/') != std::string::npos) return name;
  const char *path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  dirs += ":/usr/sbin:/sbin";  // root's tools, even under a PATH without them
  std::istringstream in(dirs);
  std::string dir;
  while (std::getline(in, dir, ':')) {
    const std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error("cannot find the program " + name + " in PATH");
}

CommandResult run_command(const std::vector<std::string> &argv,
                          const std::map<std::string, std::string> &env, bool keep_output) {
  std::vector<std::string> args = argv;
  args[0] = find_program(args[0]);
  ExecImage image(args, env);
  std::string log_path;
  int out_fd;
  if (keep_output) {
    char templ[] = "/tmp/finesse-bench-cmdXXXXXX";
    out_fd = mkstemp(templ);
    log_path = templ;
  } else {
    out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  }
  if (out_fd < 0) throw std::runtime_error(std::string("open: ") + std::strerror(errno));
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = spawn_daemon(image, out_fd, false, "finesse-bench");
  close(out_fd);
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  CommandResult r;
  rusage ru{};
  while (wait4(pid, &r.status, 0, &ru) < 0 && errno == EINTR) {
  }
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.cpu_s = seconds(ru.ru_utime) + seconds(ru.ru_stime);
  if (keep_output) {
    std::ifstream in(log_path);
    std::ostringstream text;
    text << in.rdbuf();
    r.output = text.str();
    unlink(log_path.c_str());
  }
  return r;
}

void run_checked(const std::vector<std::string> &argv) {
  const CommandResult r = run_command(argv, {}, true);
  if (r.ok()) return;
  std::string line;
  for (const auto &a : argv) line += (line.empty() ? "" : " ") + a;
  throw std::runtime_error(line + " " + describe_wait_status(r.status) + ": " + r.output);
}

std::map<std::string, std::string> shim_env(const std::string &shim_lib) {
  return {{"LD_PRELOAD", shim_lib}, {"FINESSE_WAKE_FOR_READS", "0"}};
}

}  // namespace finesse::bench
