#include "process_timing.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "child_command.h"

namespace finesse::bench {
namespace {

std::vector<std::string> resolved(std::vector<std::string> argv) {
  argv[0] = find_program(argv[0]);
  return argv;
}

// posix_spawn's attributes and file actions, released on every path.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  }
  ~SpawnSetup() {
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
  }
  SpawnSetup(const SpawnSetup &) = delete;
  SpawnSetup &operator=(const SpawnSetup &) = delete;
};

}  // namespace

bool ProgramRun::ok() const {
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TimedProgram::TimedProgram(const std::vector<std::string> &argv,
                           const std::map<std::string, std::string> &env)
    : image_(resolved(argv), env) {}

std::string TimedProgram::command_line() const {
  std::string line;
  for (const auto &a : image_.args) line += (line.empty() ? "" : " ") + a;
  return line;
}

ProgramRun TimedProgram::run() const {
  const SpawnSetup setup;
  ProgramRun r;
  pid_t pid = -1;
  const auto start = std::chrono::steady_clock::now();
  const int rc = posix_spawn(&pid, image_.argv[0], &setup.actions, &setup.attr, image_.argv.data(),
                             image_.envp.data());
  if (rc != 0) throw std::runtime_error(command_line() + ": posix_spawn: " + std::strerror(rc));
  while (waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
  }
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace finesse::bench
