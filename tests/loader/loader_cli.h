// Running the real finesse-loader binary, as root or as nobody.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "harness.h"

namespace finesse::testing {

inline std::string loader_binary() {
  return bin_dir() + "/finesse-loader";
}

inline CommandResult loader_cli(std::vector<std::string> args) {
  args.insert(args.begin(), loader_binary());
  return run_command(args);
}

// The CLI run as nobody:nogroup (run_as + exec); stdout and stderr both land in `err`.
inline CommandResult loader_cli_as_nobody(std::vector<std::string> args) {
  args.insert(args.begin(), loader_binary());
  std::vector<char *> argv;  // built before fork: the child only dup2s and execs
  for (auto &a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  CommandResult r;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return r;
  r.status = run_as([&] {
    dup2(p[1], STDOUT_FILENO);
    dup2(p[1], STDERR_FILENO);
    execv(argv[0], argv.data());
    return 127;
  });
  close(p[1]);
  char buf[4096];
  for (ssize_t n; (n = read(p[0], buf, sizeof(buf))) > 0;) r.err.append(buf, size_t(n));
  close(p[0]);
  return r;
}

// A failure is reported as exactly one line on stderr, prefixed with the program's name.
inline bool is_one_line_error(const std::string &err) {
  return err.rfind("finesse-loader: ", 0) == 0 && err.find('\n') == err.size() - 1;
}

}  // namespace finesse::testing
