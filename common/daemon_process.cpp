#include "daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

extern char **environ;

namespace finesse {

ExecImage::ExecImage(std::vector<std::string> a, const std::map<std::string, std::string> &extra)
    : args(std::move(a)) {
  for (char **e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    if (!extra.contains(entry.substr(0, entry.find('=')))) env.push_back(entry);
  }
  for (const auto &[key, value] : extra) env.push_back(key + "=" + value);
  for (auto &arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  for (auto &entry : env) envp.push_back(entry.data());
  envp.push_back(nullptr);
}

pid_t spawn_daemon(const ExecImage &image, int log_fd, bool own_group, const char *who) {
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(1);
  if (own_group) setpgid(0, 0);
  const int null_fd = open("/dev/null", O_RDONLY);
  dup2(null_fd, STDIN_FILENO);
  dup2(log_fd, STDOUT_FILENO);
  dup2(log_fd, STDERR_FILENO);
  close_range(3, ~0U, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(image.argv[0], image.argv.data(), image.envp.data());
  dprintf(STDERR_FILENO, "%s: exec %s: %s\n", who, image.argv[0], strerror(errno));
  _exit(127);
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

}  // namespace finesse
