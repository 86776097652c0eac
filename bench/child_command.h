// Running an external program to completion (mkfs, mount, tar, find...), with its wall time
// and the CPU time of it and everything it waited for.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace finesse::bench {

struct CommandResult {
  int status = 0;      // wait status
  double wall_s = 0;   // fork to reap
  double cpu_s = 0;    // user + system of the child and its waited-for descendants
  std::string output;  // stdout and stderr, when kept
  bool ok() const;     // exited with status 0
};

// argv[0] is looked up in PATH. stdout and stderr go to /dev/null unless keep_output. Throws
// std::runtime_error if the program cannot be started; a nonzero exit is the caller's business.
CommandResult run_command(const std::vector<std::string> &argv,
                          const std::map<std::string, std::string> &env = {},
                          bool keep_output = false);

// Throws std::runtime_error with the program's output unless it exits with status 0.
void run_checked(const std::vector<std::string> &argv);

// The environment of a program run through the shim: LD_PRELOAD, and the shim's default
// routing (finesse-bench itself waits for a sleeping server on reads, to time bypassed calls:
// main.cpp).
std::map<std::string, std::string> shim_env(const std::string &shim_lib);

// Absolute path of a program in PATH; throws std::runtime_error if there is none.
std::string find_program(const std::string &name);

}  // namespace finesse::bench
