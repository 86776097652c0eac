// Starting a file-system daemon as a child process the way the test harness and the
// benchmark both need it: everything built before fork, only async-signal-safe calls after.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace finesse {

// argv/envp for execve: the parent's environment with `extra` added or overriding.
struct ExecImage {
  std::vector<std::string> args, env;
  std::vector<char *> argv, envp;
  ExecImage(std::vector<std::string> a, const std::map<std::string, std::string> &extra);
};

// Forks and execs image with stdin from /dev/null, stdout and stderr to log_fd, no other fd,
// an empty signal mask, and SIGTERM when the calling thread dies (libfuse then unmounts).
// own_group: the child gets its own process group (a terminal's ^C reaches only the parent).
// Returns the pid, or -1 with errno set. `who` prefixes the child's exec error message.
pid_t spawn_daemon(const ExecImage &image, int log_fd, bool own_group, const char *who);

// "exited with status N", "killed by signal N", ...
std::string describe_wait_status(int status);

}  // namespace finesse
