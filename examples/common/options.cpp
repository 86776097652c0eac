#include "common/options.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace finesse::examples {
namespace {

void print_usage(const ProgramInfo &program) {
  std::printf(
      "usage: %s %sMOUNTPOINT [options]\n"
      "%s\n"
      "\n"
      "options:\n"
      "  -h, --help                  print this help and exit\n"
      "  -f                          stay in the foreground\n"
      "  -d                          print libfuse debug output (implies -f)\n"
      "  -s                          single-threaded event loop\n"
      "  -o opt[,opt...]             mount options:\n"
      "      allow_other                 let other users access the mount\n"
      "      default_permissions         let the kernel check permissions\n"
      "      entry_timeout=SECONDS       cache time for names (default 1.0)\n"
      "      attr_timeout=SECONDS        cache time for attributes (default 1.0)\n"
      "      negative_timeout=SECONDS    cache time for failed lookups (default 0)\n"
      "      anything else               passed on to libfuse\n",
      program.name, program.takes_source ? "SOURCE " : "", program.description);
}

// Splits "a,b\,c" at unescaped commas; escapes are kept for libfuse, which understands them.
std::vector<std::string> split_option_list(std::string_view list) {
  std::vector<std::string> options(1);
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i] == '\\' && i + 1 < list.size()) {
      options.back() += list.substr(i, 2);
      ++i;
    } else if (list[i] == ',') {
      options.emplace_back();
    } else {
      options.back() += list[i];
    }
  }
  return options;
}

bool parse_seconds(const std::string &text, double *seconds) {
  if (text.empty()) return false;
  errno = 0;
  char *end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(value) || value < 0) return false;
  *seconds = value;
  return true;
}

// Handles one "-o" item; returns an error message or an empty string.
std::string apply_mount_option(const std::string &option, CommandLine *cmdline) {
  if (option.empty()) return {};
  if (option == "allow_other") {
    cmdline->allow_other = true;
  } else if (option == "default_permissions") {
    cmdline->default_permissions = true;
  } else if (option == "debug") {
    cmdline->debug = true;
  } else {
    struct Timeout {
      const char *name;
      double *value;
    };
    const Timeout timeouts[] = {
        {"entry_timeout", &cmdline->entry_timeout},
        {"attr_timeout", &cmdline->attr_timeout},
        {"negative_timeout", &cmdline->negative_timeout},
    };
    for (const Timeout &timeout : timeouts) {
      std::string prefix = std::string(timeout.name) + "=";
      if (option.compare(0, prefix.size(), prefix) != 0) continue;
      if (!parse_seconds(option.substr(prefix.size()), timeout.value)) {
        return "invalid value in '-o " + option + "' (expected seconds >= 0)";
      }
      return {};
    }
    if (option.rfind("entry_timeout", 0) == 0 || option.rfind("attr_timeout", 0) == 0 ||
        option.rfind("negative_timeout", 0) == 0) {
      return "unknown option '-o " + option + "'";
    }
    cmdline->fuse_options.push_back(option);
  }
  return {};
}

// Checks that `path` names a usable directory and makes it absolute.
std::string resolve_directory(const std::string &what, const std::string &path,
                              std::string *absolute) {
  struct stat attr;
  if (stat(path.c_str(), &attr) != 0) {
    if (errno == ENOENT) return what + " '" + path + "' does not exist";
    return "cannot access " + what + " '" + path + "': " + std::strerror(errno);
  }
  if (!S_ISDIR(attr.st_mode)) return what + " '" + path + "' is not a directory";
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) {
    return "cannot resolve " + what + " '" + path + "': " + std::strerror(errno);
  }
  int fd = open(resolved, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return "cannot open " + what + " '" + path + "': " + std::strerror(errno);
  close(fd);
  *absolute = resolved;
  return {};
}

}  // namespace

void print_error(const ProgramInfo &program, const std::string &message) {
  std::fprintf(stderr, "%s: %s\n", program.name, message.c_str());
}

std::optional<int> parse_command_line(const ProgramInfo &program, int argc, char **argv,
                                      CommandLine *cmdline) {
  auto usage_error = [&](const std::string &message) -> std::optional<int> {
    print_error(program, message + " (see --help)");
    return kExitUsageError;
  };
  std::vector<std::string> positional;
  bool options_ended = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (options_ended || arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    if (arg == "--help") {
      print_usage(program);
      return 0;
    }
    if (arg[1] == '-') return usage_error("unknown option '" + arg + "'");
    for (size_t j = 1; j < arg.size(); ++j) {
      char flag = arg[j];
      if (flag == 'h') {
        print_usage(program);
        return 0;
      } else if (flag == 'f') {
        cmdline->foreground = true;
      } else if (flag == 'd') {
        cmdline->debug = true;
      } else if (flag == 's') {
        cmdline->single_threaded = true;
      } else if (flag == 'o') {
        std::string list;
        if (j + 1 < arg.size()) {
          list = arg.substr(j + 1);
        } else if (i + 1 < argc) {
          list = argv[++i];
        } else {
          return usage_error("option '-o' requires an argument");
        }
        for (const std::string &option : split_option_list(list)) {
          std::string error = apply_mount_option(option, cmdline);
          if (!error.empty()) return usage_error(error);
        }
        break;
      } else {
        return usage_error(std::string("unknown option '-") + flag + "'");
      }
    }
  }
  if (cmdline->debug) cmdline->foreground = true;

  size_t expected = program.takes_source ? 2 : 1;
  if (positional.size() < expected) {
    return usage_error(program.takes_source && positional.empty() ? "missing source directory"
                                                                  : "missing mountpoint");
  }
  if (positional.size() > expected) {
    return usage_error("unexpected argument '" + positional[expected] + "'");
  }
  if (program.takes_source) {
    std::string error = resolve_directory("source directory", positional[0], &cmdline->source);
    if (!error.empty()) return print_error(program, error), kExitUsageError;
  }
  std::string error = resolve_directory("mountpoint", positional.back(), &cmdline->mountpoint);
  if (!error.empty()) return print_error(program, error), kExitUsageError;
  return std::nullopt;
}

std::vector<std::string> libfuse_arguments(const ProgramInfo &program, const CommandLine &cmdline) {
  std::vector<std::string> args{program.name};
  auto add_option = [&](const std::string &option) {
    args.push_back("-o");
    args.push_back(option);
  };
  auto user_gave = [&](std::string_view prefix) {
    for (const std::string &option : cmdline.fuse_options) {
      if (option.rfind(prefix, 0) == 0) return true;
    }
    return false;
  };
  // Names the mount "fuse.<program>" in /proc/mounts unless the user chose otherwise.
  if (!user_gave("fsname=")) add_option(std::string("fsname=") + program.name);
  if (!user_gave("subtype=")) add_option(std::string("subtype=") + program.name);
  if (cmdline.allow_other) add_option("allow_other");
  if (cmdline.default_permissions) add_option("default_permissions");
  for (const std::string &option : cmdline.fuse_options) add_option(option);
  if (cmdline.debug) args.push_back("-d");
  return args;
}

}  // namespace finesse::examples
