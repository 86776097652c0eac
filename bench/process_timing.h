// Whole-process timings for the do-no-harm suite: a program started with posix_spawn (a vfork,
// so finesse-bench's own size costs nothing), stdin, stdout and stderr on /dev/null, no other
// fd, waited for; its wall time runs from the spawn to the reap. The argv and environment are
// built once, before any timing.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "daemon_process.h"

namespace finesse::bench {

struct ProgramRun {
  double wall_s = 0;
  int status = 0;   // wait status
  bool ok() const;  // exited with status 0
};

class TimedProgram {
 public:
  // argv[0] is looked up in PATH; env is added to (or replaces in) our environment. Throws
  // std::runtime_error if the program cannot be found.
  TimedProgram(const std::vector<std::string> &argv,
               const std::map<std::string, std::string> &env = {});
  // The image's argv and envp point into its own strings: never copied or moved.
  TimedProgram(const TimedProgram &) = delete;
  TimedProgram &operator=(const TimedProgram &) = delete;
  // Throws std::runtime_error if the program cannot be started.
  ProgramRun run() const;
  std::string command_line() const;

 private:
  ExecImage image_;
};

}  // namespace finesse::bench
