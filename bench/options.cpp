#include "options.h"

#include <getopt.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>

namespace finesse::bench {
namespace {

constexpr const char *kUsage =
    "usage: finesse-bench [options]   (must run as root)\n"
    "Runs metadata workloads natively on a source directory, through finesse-passthrough by the\n"
    "kernel FUSE path, and through the Finesse bypass, interleaved; with the default kernel\n"
    "caching (entry/attr timeout 1 s) and with none (timeouts 0); on each storage. Suites:\n"
    "ops (per-call times), delete (the paper's: preallocated files deleted by 1 and 4\n"
    "threads, caches dropped), apps (tar x, find|xargs stat, ls -lR, du -s, grep -r, ls -laR,\n"
    "rm -rf; bypass through the LD_PRELOAD shim), spin (spin-budget sweep), taskset (ops\n"
    "pinned to CPU 0), harm (do no harm: whole processes with and without Finesse loaded,\n"
    "the shim, the server; 2 x --reps interleaved rounds, first storage; it unloads the BPF\n"
    "programs, so nothing else may use Finesse meanwhile).\n"
    "Delete and apps repeat min(--reps, 3) times. See docs/benchmarks.md.\n"
    "  --storage S,...    where the source dir and mountpoint live: ext4ram (ext4 on a RAM\n"
    "                     loop device), tmpfs, rootdisk (default ext4ram,tmpfs)\n"
    "  --source-dir DIR   use this directory instead of the storages\n"
    "  --suite S,...      parts to run: ops delete apps spin taskset harm (default all)\n"
    "  --files N          delete workload: preallocated 4 KB files (default 20000)\n"
    "  --app-files N      applications: files in the extracted tree (default 2000)\n"
    "  --plot FILE        the ratios plot (PNG; default next to --json, else bench-ratios.png\n"
    "                     in the current directory)\n"
    "  --pin-cpu N        run this process and its daemons on CPU N only\n"
    "  --quick            a smoke run: 200 calls, 2 reps, 2000 files, 200 application files\n"
    "  --ops N            calls per measurement (default 2000)\n"
    "  --reps N           measurements per operation and column, interleaved (default 5)\n"
    "  --json FILE        also write the results as JSON to FILE\n"
    "  --fs-binary PATH   the file system daemon (default: finesse-passthrough next to this;\n"
    "                     passthrough_ll, libfuse's own, is built next to it too)\n"
    "  --preload PATH     the server library (default: ../lib/libfinesse_fuse.so from there)\n"
    "  --only OP,...      only these operations: stat_existing stat_missing access create\n"
    "                     unlink mkdir rmdir rename chmod utimens open_close readdir_1000\n"
    "                     fstat stat_batch_1000 unlink_batch_1000 (for profiling)\n"
    "  --config CFG,...   only these mount configurations: cached uncached (the default), no-open\n"
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
  enum {
    kSourceDir = 1000,
    kOps,
    kReps,
    kJson,
    kFsBinary,
    kPreload,
    kOnly,
    kConfig,
    kStorage,
    kSuite,
    kFiles,
    kAppFiles,
    kPlot,
    kPinCpu,
    kQuick
  };
  static const option kLong[] = {
      {"source-dir", required_argument, nullptr, kSourceDir},
      {"ops", required_argument, nullptr, kOps},
      {"reps", required_argument, nullptr, kReps},
      {"json", required_argument, nullptr, kJson},
      {"fs-binary", required_argument, nullptr, kFsBinary},
      {"preload", required_argument, nullptr, kPreload},
      {"only", required_argument, nullptr, kOnly},
      {"config", required_argument, nullptr, kConfig},
      {"storage", required_argument, nullptr, kStorage},
      {"suite", required_argument, nullptr, kSuite},
      {"files", required_argument, nullptr, kFiles},
      {"app-files", required_argument, nullptr, kAppFiles},
      {"plot", required_argument, nullptr, kPlot},
      {"pin-cpu", required_argument, nullptr, kPinCpu},
      {"quick", no_argument, nullptr, kQuick},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  opterr = 0;
  bool quick = false, explicit_ops = false, explicit_reps = false, explicit_files = false,
       explicit_app_files = false;
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
        explicit_ops = true;
        break;
      case kReps:
        if (!parse_count(optarg, 1, 1000, &value)) return usage_error("bad --reps value");
        out->reps = static_cast<int>(value);
        explicit_reps = true;
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
      case kStorage:
        out->storages = split_commas(optarg);
        break;
      case kSuite:
        out->suites = split_commas(optarg);
        for (const auto &name : out->suites) {
          if (std::find(std::begin(kSuites), std::end(kSuites), name) == std::end(kSuites)) {
            return usage_error("unknown suite '" + name + "'");
          }
        }
        break;
      case kFiles:
        if (!parse_count(optarg, 1, 100'000'000, &value)) return usage_error("bad --files value");
        out->files = static_cast<size_t>(value);
        explicit_files = true;
        break;
      case kAppFiles:
        if (!parse_count(optarg, 1, 1'000'000, &value)) return usage_error("bad --app-files");
        out->app_files = static_cast<size_t>(value);
        explicit_app_files = true;
        break;
      case kPlot:
        out->plot_path = optarg;
        break;
      case kPinCpu:
        if (!parse_count(optarg, 0, 4095, &value)) return usage_error("bad --pin-cpu value");
        out->pin_cpu = static_cast<int>(value);
        break;
      case kQuick:
        quick = true;
        break;
      case 'h':
        std::fputs(kUsage, stdout);
        return 0;
      default:
        return usage_error(std::string("unknown or incomplete option '") + argv[optind - 1] + "'");
    }
  }
  if (optind < argc) return usage_error(std::string("unexpected argument '") + argv[optind] + "'");
  if (quick) {  // explicit values win
    out->quick = true;
    if (!explicit_ops) out->ops = 200;
    if (!explicit_reps) out->reps = 2;
    if (!explicit_files) out->files = 2000;
    if (!explicit_app_files) out->app_files = 200;
  }
  return std::nullopt;
}

}  // namespace finesse::bench
