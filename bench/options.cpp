#include "options.h"

#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace finesse::bench {
namespace {

constexpr const char *kUsage =
    "usage: finesse-bench [options]   (must run as root)\n"
    "Measures the per-call time of metadata operations on finesse-passthrough: natively on its\n"
    "source directory, through the kernel FUSE path, and through the Finesse bypass; with the\n"
    "default kernel caching (entry/attr timeout 1 s) and with none (timeouts 0).\n"
    "  --source-dir DIR   where the source tree and mountpoint are created (default /dev/shm)\n"
    "  --ops N            calls per measurement (default 2000)\n"
    "  --reps N           measurements per operation and column, interleaved (default 5)\n"
    "  --json FILE        also write the results as JSON to FILE\n"
    "  --fs-binary PATH   the file system daemon (default: finesse-passthrough next to this)\n"
    "  --preload PATH     the server library (default: ../lib/libfinesse_fuse.so from there)\n"
    "  --only OP,...      only these operations: stat_existing stat_missing access create\n"
    "                     unlink mkdir rmdir rename chmod (for profiling)\n"
    "  --config CFG,...   only these mount configurations: cached uncached\n"
    "  -h, --help         this text\n";

bool parse_count(const char *text, long min, long max, long *out) {
  char *end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < min || value > max) return false;
  *out = value;
  return true;
}

std::vector<std::string> split_commas(const std::string &text) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos) return parts;
    start = comma + 1;
  }
}

int usage_error(const std::string &message) {
  std::fprintf(stderr, "finesse-bench: %s (see --help)\n", message.c_str());
  return 2;
}

}  // namespace

std::optional<int> parse_options(int argc, char **argv, Options *out) {
  enum { kSourceDir = 1000, kOps, kReps, kJson, kFsBinary, kPreload, kOnly, kConfig };
  static const option kLong[] = {
      {"source-dir", required_argument, nullptr, kSourceDir},
      {"ops", required_argument, nullptr, kOps},
      {"reps", required_argument, nullptr, kReps},
      {"json", required_argument, nullptr, kJson},
      {"fs-binary", required_argument, nullptr, kFsBinary},
      {"preload", required_argument, nullptr, kPreload},
      {"only", required_argument, nullptr, kOnly},
      {"config", required_argument, nullptr, kConfig},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", kLong, nullptr)) != -1) {
    long value = 0;
    switch (c) {
      case kSourceDir:
        out->source_parent = optarg;
        break;
      case kOps:
        if (!parse_count(optarg, 1, 10'000'000, &value)) return usage_error("bad --ops value");
        out->ops = static_cast<size_t>(value);
        break;
      case kReps:
        if (!parse_count(optarg, 1, 1000, &value)) return usage_error("bad --reps value");
        out->reps = static_cast<int>(value);
        break;
      case kJson:
        out->json_path = optarg;
        break;
      case kFsBinary:
        out->fs_binary = optarg;
        break;
      case kPreload:
        out->preload_lib = optarg;
        break;
      case kOnly:
        out->only_ops = split_commas(optarg);
        break;
      case kConfig:
        out->only_configs = split_commas(optarg);
        break;
      case 'h':
        std::fputs(kUsage, stdout);
        return 0;
      default:
        return usage_error(std::string("unknown or incomplete option '") + argv[optind - 1] + "'");
    }
  }
  if (optind < argc) return usage_error(std::string("unexpected argument '") + argv[optind] + "'");
  return std::nullopt;
}

}  // namespace finesse::bench
