// Command-line parsing shared by the sample file systems. The syntax follows libfuse's usual
// conventions (-f, -d, -s, -o opt[,opt...]) so the daemons can be driven like any FUSE example.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace finesse::examples {

inline constexpr int kExitRuntimeError = 1;  // e.g. the mount failed
inline constexpr int kExitUsageError = 2;    // bad command line

struct ProgramInfo {
  const char *name;         // e.g. "finesse-memfs"; prefixes every error line
  const char *description;  // one line shown by --help
  bool takes_source;        // "SOURCE MOUNTPOINT" instead of "MOUNTPOINT"
};

struct CommandLine {
  std::string source;      // absolute path; only when ProgramInfo::takes_source
  std::string mountpoint;  // absolute path (the daemon chdirs to / when it daemonizes)
  bool foreground = false;
  bool debug = false;
  bool single_threaded = false;
  bool allow_other = false;
  bool default_permissions = false;
  double entry_timeout = 1.0;
  double attr_timeout = 1.0;
  double negative_timeout = 0.0;
  std::vector<std::string> fuse_options;  // other -o options, handed to libfuse verbatim
};

// Parses and validates argv (including that SOURCE and MOUNTPOINT are usable directories).
// Returns std::nullopt when the file system should run; otherwise the status to exit with:
// 0 after printing --help, kExitUsageError after printing one error line to stderr.
std::optional<int> parse_command_line(const ProgramInfo &program, int argc, char **argv,
                                      CommandLine *cmdline);

// Prints "<program>: <message>" as a single line on stderr.
void print_error(const ProgramInfo &program, const std::string &message);

// The argv for libfuse's fuse_args: mount options (-o ...) and -d, without the mountpoint.
std::vector<std::string> libfuse_arguments(const ProgramInfo &program, const CommandLine &cmdline);

}  // namespace finesse::examples
