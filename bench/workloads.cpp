#include "workloads.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "finesse/finesse.h"
#include "fs_util.h"
#include "process_cpu.h"

namespace finesse::bench {
namespace {

constexpr mode_t kDirMode = 0755;
constexpr mode_t kChmodTo = 0600;  // files are created 0644, so every chmod changes the mode
constexpr timespec kTimes[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};
constexpr size_t kReaddirEntries = 1000;
constexpr size_t kBatchCalls = 1000;  // calls in one batch (kStatBatch, kUnlinkBatch)

// One whole listing: opendir, readdir to the end, closedir. -1 unless every entry was seen.
template <typename Open, typename Read, typename Close>
int list_dir(const char *p, Open open_dir, Read read_dir, Close close_dir) {
  DIR *d = open_dir(p);
  if (d == nullptr) return -1;
  size_t entries = 0;
  while (read_dir(d) != nullptr) ++entries;
  close_dir(d);
  if (entries == kReaddirEntries + 2) return 0;  // with . and ..
  errno = EIO;
  return -1;
}

// The calls of the native and fuse columns.
struct LibcCalls {
  static int stat_path(const char *p) {
    struct stat st;
    return stat(p, &st);
  }
  static int access_path(const char *p) { return access(p, R_OK); }
  static int unlink_path(const char *p) { return unlink(p); }
  static int mkdir_path(const char *p) { return mkdir(p, kDirMode); }
  static int rmdir_path(const char *p) { return rmdir(p); }
  static int rename_path(const char *a, const char *b) { return rename(a, b); }
  static int chmod_path(const char *p) { return chmod(p, kChmodTo); }
  static int utimens_path(const char *p) { return utimensat(AT_FDCWD, p, kTimes, 0); }
  static int fstat_fd(int fd) {
    struct stat st;
    return fstat(fd, &st);
  }
  static int list_path(const char *p) { return list_dir(p, opendir, readdir, closedir); }
  // count stats (unlinks) of p[from...], one after another: -1 unless all succeeded.
  static int stat_many(const std::vector<std::string> &p, size_t from, size_t count) {
    int rc = 0;
    for (size_t i = from; i < from + count; i++) rc |= stat_path(p[i].c_str());
    return rc;
  }
  static int unlink_many(const std::vector<std::string> &p, size_t from, size_t count) {
    int rc = 0;
    for (size_t i = from; i < from + count; i++) rc |= unlink_path(p[i].c_str());
    return rc;
  }
};

// One finesse_batch of count calls of `kind` on p[from...]: -1 unless all succeeded.
int batch_of(int kind, const std::vector<std::string> &p, size_t from, size_t count) {
  struct stat st;
  std::vector<finesse_op> ops(count);
  for (size_t i = 0; i < count; i++)
    ops[i] = {.op = kind, .dirfd = AT_FDCWD, .path = p[from + i].c_str(), .buf = &st};
  return finesse_batch(ops.data(), count, 0) == 0 ? 0 : -1;
}

// The calls of the bypass column.
struct FinesseCalls {
  static int stat_path(const char *p) {
    struct stat st;
    return finesse_stat(p, &st);
  }
  static int access_path(const char *p) { return finesse_access(p, R_OK); }
  static int unlink_path(const char *p) { return finesse_unlink(p); }
  static int mkdir_path(const char *p) { return finesse_mkdir(p, kDirMode); }
  static int rmdir_path(const char *p) { return finesse_rmdir(p); }
  static int rename_path(const char *a, const char *b) { return finesse_rename(a, b); }
  static int chmod_path(const char *p) { return finesse_chmod(p, kChmodTo); }
  static int utimens_path(const char *p) { return finesse_utimensat(AT_FDCWD, p, kTimes, 0); }
  static int fstat_fd(int fd) {
    struct stat st;
    return finesse_fstat(fd, &st);
  }
  static int list_path(const char *p) {
    return list_dir(p, finesse_opendir, finesse_readdir, finesse_closedir);
  }
  static int stat_many(const std::vector<std::string> &p, size_t from, size_t count) {
    return batch_of(FINESSE_OP_STAT, p, from, count);
  }
  static int unlink_many(const std::vector<std::string> &p, size_t from, size_t count) {
    return batch_of(FINESSE_OP_UNLINK, p, from, count);
  }
};

// Not bypassed: the same open+close in every column.
int create_path(const char *p) {
  const int fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  return close(fd);
}

// Not bypassed either: opening an existing file and closing it.
int open_close_path(const char *p) {
  const int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  return close(fd);
}

uint64_t thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

double now_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Times n calls of call(i), which returns the call's result; `want_errno` 0 expects 0, else
// -1 with that errno. Only the loop is timed; route checks cost a TLS read per call.
template <typename Call>
Sample time_calls(size_t n, int want_errno, bool check_route, pid_t daemon, Call call) {
  Sample s;
  s.calls = n;
  finesse_client_stats before{}, after{};
  finesse_get_client_stats(&before);
  const uint64_t cpu_before = process_cpu_ns(daemon);
  const uint64_t client_before = thread_cpu_ns();
  const double start = now_us();
  for (size_t i = 0; i < n; ++i) {
    errno = 0;
    const int rc = call(i);
    const bool as_expected = want_errno == 0 ? rc == 0 : (rc == -1 && errno == want_errno);
    if (!as_expected && s.failures++ == 0) s.first_errno = errno;
    if (check_route && finesse_last_route() != FINESSE_ROUTE_BYPASS) ++s.kernel_routed;
  }
  const double end = now_us();
  s.client_cpu_ns = thread_cpu_ns() - client_before;
  s.server_cpu_ns = process_cpu_ns(daemon) - cpu_before;
  finesse_get_client_stats(&after);
  s.us_per_call = (end - start) / static_cast<double>(n);
  s.client_bypassed = after.bypassed - before.bypassed;
  s.client_kernel = after.kernel - before.kernel;
  return s;
}

// One untimed pass, so stat/access measure the steady state: with kernel caching on, the
// names are in the kernel's caches, as they are for a program that looks at files it knows.
template <typename Call>
void warm_up(size_t n, Call call) {
  for (size_t i = 0; i < n; ++i) call(i);
}

template <typename Calls>
Sample measure_with(Op op, const std::string &dir, size_t n, bool check_route, pid_t daemon) {
  auto timed = [&](int want_errno, auto call) {
    return time_calls(n, want_errno, check_route, daemon, call);
  };
  switch (op) {
    case Op::kStatHit: {
      const auto p = numbered_paths(dir, "f", n);
      create_files(p);
      auto call = [&](size_t i) { return Calls::stat_path(p[i].c_str()); };
      warm_up(n, call);
      return timed(0, call);
    }
    case Op::kStatMiss: {
      const auto p = numbered_paths(dir, "missing", n);
      return timed(ENOENT, [&](size_t i) { return Calls::stat_path(p[i].c_str()); });
    }
    case Op::kAccess: {
      const auto p = numbered_paths(dir, "f", n);
      create_files(p);
      auto call = [&](size_t i) { return Calls::access_path(p[i].c_str()); };
      warm_up(n, call);
      return timed(0, call);
    }
    case Op::kCreate: {
      const auto p = numbered_paths(dir, "f", n);
      return time_calls(n, 0, false, daemon, [&](size_t i) { return create_path(p[i].c_str()); });
    }
    case Op::kUnlink: {
      const auto p = numbered_paths(dir, "f", n);
      create_files(p);
      return timed(0, [&](size_t i) { return Calls::unlink_path(p[i].c_str()); });
    }
    case Op::kMkdir: {
      const auto p = numbered_paths(dir, "d", n);
      return timed(0, [&](size_t i) { return Calls::mkdir_path(p[i].c_str()); });
    }
    case Op::kRmdir: {
      const auto p = numbered_paths(dir, "d", n);
      create_dirs(p);
      return timed(0, [&](size_t i) { return Calls::rmdir_path(p[i].c_str()); });
    }
    case Op::kRename: {
      const auto from = numbered_paths(dir, "a", n);
      const auto to = numbered_paths(dir, "b", n);
      create_files(from);
      return timed(0, [&](size_t i) { return Calls::rename_path(from[i].c_str(), to[i].c_str()); });
    }
    case Op::kChmod: {
      const auto p = numbered_paths(dir, "f", n);
      create_files(p);
      return timed(0, [&](size_t i) { return Calls::chmod_path(p[i].c_str()); });
    }
    case Op::kOpenClose: {
      const auto p = numbered_paths(dir, "f", n);
      create_files(p);
      auto call = [&](size_t i) { return open_close_path(p[i].c_str()); };
      warm_up(n, call);
      return time_calls(n, 0, false, daemon, call);
    }
    case Op::kUtimens: {
      const auto p = numbered_paths(dir, "f", n);
      create_files(p);
      return timed(0, [&](size_t i) { return Calls::utimens_path(p[i].c_str()); });
    }
    case Op::kReaddir: {
      create_files(numbered_paths(dir, "f", kReaddirEntries));
      auto call = [&](size_t) { return Calls::list_path(dir.c_str()); };
      warm_up(1, call);
      return timed(0, call);
    }
    case Op::kStatBatch: {
      const auto p = numbered_paths(dir, "f", n * kBatchCalls);
      create_files(p);
      auto call = [&](size_t i) { return Calls::stat_many(p, i * kBatchCalls, kBatchCalls); };
      warm_up(n, call);
      return timed(0, call);
    }
    case Op::kUnlinkBatch: {
      const auto p = numbered_paths(dir, "f", n * kBatchCalls);
      create_files(p);
      return timed(0,
                   [&](size_t i) { return Calls::unlink_many(p, i * kBatchCalls, kBatchCalls); });
    }
    case Op::kFstat: {
      const std::string file = dir + "/f";
      create_files({file});
      const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw std::runtime_error("cannot open " + file);
      Sample s = timed(0, [&](size_t) { return Calls::fstat_fd(fd); });
      close(fd);
      return s;
    }
  }
  throw std::logic_error("unknown operation");
}

}  // namespace

const std::vector<OpInfo> &all_ops() {
  static const std::vector<OpInfo> ops = {
      {Op::kStatHit, "stat_existing", "stat (existing)", true},
      {Op::kStatMiss, "stat_missing", "stat (missing)", true},
      {Op::kAccess, "access", "access", true},
      {Op::kCreate, "create", "create* (kernel in all)", false},
      {Op::kUnlink, "unlink", "unlink", true},
      {Op::kMkdir, "mkdir", "mkdir", true},
      {Op::kRmdir, "rmdir", "rmdir", true},
      {Op::kRename, "rename", "rename", true},
      {Op::kChmod, "chmod", "chmod", true},
      {Op::kUtimens, "utimens", "utimens", true},
      {Op::kOpenClose, "open_close", "open+close* (kernel in all)", false},
      {Op::kReaddir, "readdir_1000", "readdir 1000", true, 20},
      {Op::kFstat, "fstat", "fstat (open fd)", true},
      {Op::kStatBatch, "stat_batch_1000", "stat x1000 (bypass: one batch)", true, 200},
      {Op::kUnlinkBatch, "unlink_batch_1000", "unlink x1000 (bypass: one batch)", true, 200},
  };
  return ops;
}

const OpInfo &op_info(Op op) {
  for (const auto &info : all_ops()) {
    if (info.op == op) return info;
  }
  throw std::logic_error("unknown operation");
}

const char *column_key(Column column) {
  switch (column) {
    case Column::kNative:
      return "native";
    case Column::kFuse:
      return "fuse";
    case Column::kBypass:
      return "bypass";
    case Column::kPlain:
      return "plain";
  }
  return "?";
}

Sample measure(Op op, Column column, const std::string &dir, size_t calls, pid_t daemon) {
  calls = std::max<size_t>(1, calls / op_info(op).divisor);
  if (column == Column::kBypass) {
    return measure_with<FinesseCalls>(op, dir, calls, op_info(op).bypassable, daemon);
  }
  return measure_with<LibcCalls>(op, dir, calls, false, daemon);
}

}  // namespace finesse::bench
