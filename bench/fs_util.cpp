#include "fs_util.h"

#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "interrupt.h"

namespace finesse::bench {
namespace {

[[noreturn]] void fail(const char *what, const std::string &path) {
  throw std::runtime_error(std::string(what) + " " + path + ": " + std::strerror(errno));
}

int remove_entry(const char *path, const struct stat *, int type, FTW *) {
  const int rc = (type == FTW_DP) ? rmdir(path) : unlink(path);
  if (rc != 0 && errno != ENOENT) {
    std::fprintf(stderr, "finesse-bench: cannot remove %s: %s\n", path, std::strerror(errno));
  }
  return 0;  // keep going: remove as much as possible
}

}  // namespace

std::string make_temp_dir(const std::string &parent, const std::string &prefix) {
  std::string templ = parent + "/" + prefix + "XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) fail("cannot create a directory in", parent);
  return templ;
}

void make_dir(const std::string &path) {
  if (mkdir(path.c_str(), 0755) != 0) fail("cannot create directory", path);
}

void remove_tree(const std::string &path) {
  nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

std::vector<std::string> numbered_paths(const std::string &dir, const char *prefix, size_t n) {
  std::vector<std::string> paths;
  paths.reserve(n);
  for (size_t i = 0; i < n; ++i) paths.push_back(dir + "/" + prefix + std::to_string(i));
  return paths;
}

void create_files(const std::vector<std::string> &paths) {
  for (const auto &p : paths) {
    if (mknod(p.c_str(), S_IFREG | 0644, 0) != 0) fail("cannot create file", p);
    throw_if_interrupted();
  }
}

void create_dirs(const std::vector<std::string> &paths) {
  for (const auto &p : paths) {
    make_dir(p);
    throw_if_interrupted();
  }
}

void drop_caches() {
  sync();
  std::FILE *f = std::fopen("/proc/sys/vm/drop_caches", "w");
  if (f == nullptr || std::fputs("3\n", f) < 0 || std::fclose(f) != 0) {
    throw std::runtime_error(std::string("cannot drop caches: ") + std::strerror(errno));
  }
}

std::string executable_dir() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

}  // namespace finesse::bench
