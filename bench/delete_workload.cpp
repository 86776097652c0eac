#include "delete_workload.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <functional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "finesse/finesse.h"
#include "fs_util.h"
#include "interrupt.h"
#include "process_cpu.h"

namespace finesse::bench {
namespace {

constexpr size_t kFileBytes = 4096;

void write_file(const std::string &path, const char *data) {
  const int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, data, kFileBytes) != static_cast<ssize_t>(kFileBytes)) {
    throw std::runtime_error("cannot write " + path);
  }
  close(fd);
}

// dirs[d] holds files [d * width, min((d + 1) * width, files)).
std::vector<std::vector<std::string>> tree_paths(const std::string &root, size_t files) {
  std::vector<std::vector<std::string>> dirs((files + kDeleteDirWidth - 1) / kDeleteDirWidth);
  for (size_t d = 0; d < dirs.size(); ++d) {
    const size_t n = std::min(kDeleteDirWidth, files - d * kDeleteDirWidth);
    dirs[d] = numbered_paths(root + "/d" + std::to_string(d), "f", n);
  }
  return dirs;
}

double process_cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct ThreadTally {
  uint64_t failures = 0, routed = 0;
  int first_errno = 0;
};

void delete_dirs(Column column, const std::vector<std::vector<std::string>> &dirs, size_t first,
                 size_t stride, ThreadTally *tally) {
  for (size_t d = first; d < dirs.size(); d += stride) {
    for (const std::string &p : dirs[d]) {
      const int rc = column == Column::kBypass ? finesse_unlink(p.c_str()) : unlink(p.c_str());
      if (rc != 0 && tally->failures++ == 0) tally->first_errno = errno;
      if (column == Column::kBypass && finesse_last_route() != FINESSE_ROUTE_BYPASS) {
        ++tally->routed;
      }
    }
  }
}

}  // namespace

DeleteSample measure_delete(Column column, const std::string &native_dir,
                            const std::string &view_dir, const std::string &name, size_t files,
                            int threads, pid_t daemon) {
  const std::string native_root = native_dir + "/" + name, view_root = view_dir + "/" + name;
  make_dir(native_root);
  const auto native = tree_paths(native_root, files);
  std::vector<char> data(kFileBytes, 'x');
  for (size_t d = 0; d < native.size(); ++d) {
    make_dir(native_root + "/d" + std::to_string(d));
    for (const std::string &p : native[d]) write_file(p, data.data());
    throw_if_interrupted();
  }
  const auto view = tree_paths(view_root, files);
  drop_caches();

  std::vector<ThreadTally> tallies(static_cast<size_t>(threads));
  const uint64_t server_before = process_cpu_ns(daemon);
  const double client_before = process_cpu_s();
  const auto start = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back(delete_dirs, column, std::cref(view), static_cast<size_t>(t),
                           static_cast<size_t>(threads), &tallies[static_cast<size_t>(t)]);
    }
  }
  DeleteSample s;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  s.client_cpu_s = process_cpu_s() - client_before;
  s.server_cpu_s = static_cast<double>(process_cpu_ns(daemon) - server_before) / 1e9;
  s.files = files;
  s.files_per_s = static_cast<double>(files) / s.seconds;
  for (const ThreadTally &t : tallies) {
    if (t.failures != 0 && s.failures == 0) s.first_errno = t.first_errno;
    s.failures += t.failures;
    s.kernel_routed += t.routed;
  }
  // Through the view first (the kernel forgets the directories), then natively for leftovers.
  if (column != Column::kNative) remove_tree(view_root);
  remove_tree(native_root);
  return s;
}

}  // namespace finesse::bench
