#include "workloads.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
};

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
};

// Not bypassed: the same open+close in every column.
int create_path(const char *p) {
  const int fd = open(p, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  return close(fd);
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
  const double start = now_us();
  for (size_t i = 0; i < n; ++i) {
    errno = 0;
    const int rc = call(i);
    const bool as_expected = want_errno == 0 ? rc == 0 : (rc == -1 && errno == want_errno);
    if (!as_expected && s.failures++ == 0) s.first_errno = errno;
    if (check_route && finesse_last_route() != FINESSE_ROUTE_BYPASS) ++s.kernel_routed;
  }
  const double end = now_us();
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
  }
  return "?";
}

Sample measure(Op op, Column column, const std::string &dir, size_t calls, pid_t daemon) {
  if (column == Column::kBypass) {
    return measure_with<FinesseCalls>(op, dir, calls, op_info(op).bypassable, daemon);
  }
  return measure_with<LibcCalls>(op, dir, calls, false, daemon);
}

}  // namespace finesse::bench
