#include "fs_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace finesse::kernel_path {
namespace {

[[noreturn]] void fail(const std::string &what, const std::string &path) {
  throw std::runtime_error(what + " " + path + ": " + errno_name(errno));
}

}  // namespace

std::string errno_name(int err) {
  if (err == 0) return "0";
  const char *name = strerrorname_np(err);
  return name != nullptr ? name : std::to_string(err);
}

void write_file(const std::string &path, const std::string &content, mode_t mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) fail("open", path);
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n <= 0) {
      close(fd);
      fail("write", path);
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0) fail("close", path);
}

std::string read_file(const std::string &path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("open", path);
  std::string content;
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0) {
      close(fd);
      fail("read", path);
    }
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return content;
}

struct stat stat_of(const std::string &path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) fail("stat", path);
  return st;
}

struct stat lstat_of(const std::string &path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) fail("lstat", path);
  return st;
}

std::map<std::string, unsigned char> list_dir(const std::string &path) {
  DIR *dir = opendir(path.c_str());
  if (dir == nullptr) fail("opendir", path);
  std::map<std::string, unsigned char> entries;
  errno = 0;
  while (const dirent *entry = readdir(dir)) {
    if (!entries.emplace(entry->d_name, entry->d_type).second) {
      closedir(dir);
      throw std::runtime_error("readdir " + path + " returned '" + entry->d_name + "' twice");
    }
  }
  const int err = errno;
  closedir(dir);
  if (err != 0) {
    errno = err;
    fail("readdir", path);
  }
  return entries;
}

bool before(const timespec &a, const timespec &b) {
  return a.tv_sec != b.tv_sec ? a.tv_sec < b.tv_sec : a.tv_nsec < b.tv_nsec;
}

bool same_time(const timespec &a, const timespec &b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

timespec now_realtime() {
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return t;
}

bool close_to(const timespec &a, const timespec &b, long slack_ms) {
  const long long diff_ns =
      (static_cast<long long>(a.tv_sec) - b.tv_sec) * 1000000000LL + (a.tv_nsec - b.tv_nsec);
  return std::llabs(diff_ns) <= slack_ms * 1000000LL;
}

std::string to_string(const timespec &t) {
  char text[64];
  std::snprintf(text, sizeof text, "%lld.%09ld", static_cast<long long>(t.tv_sec), t.tv_nsec);
  return text;
}

void let_time_pass() {
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace finesse::kernel_path
