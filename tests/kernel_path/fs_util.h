// Small file-system helpers and errno assertions for the kernel-path tests.
#pragma once

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>

#include "unique_fd.h"

namespace finesse::kernel_path {

std::string errno_name(int err);  // "ENOENT", or "0"

// Expects `call` to fail with `err` (returns -1 or a null pointer, sets errno).
#define EXPECT_ERRNO(err, call)                                      \
  do {                                                               \
    errno = 0;                                                       \
    const bool failed_ = ::finesse::kernel_path::is_failure(call);   \
    const int errno_ = errno;                                        \
    EXPECT_TRUE(failed_) << #call << " succeeded, expected "         \
                         << ::finesse::kernel_path::errno_name(err); \
    if (failed_) {                                                   \
      EXPECT_EQ(::finesse::kernel_path::errno_name(errno_),          \
                ::finesse::kernel_path::errno_name(err))             \
          << #call;                                                  \
    }                                                                \
  } while (0)

// Asserts that `call` succeeds, printing errno otherwise.
#define ASSERT_OK(call)                                                                         \
  do {                                                                                          \
    errno = 0;                                                                                  \
    const bool failed_ = ::finesse::kernel_path::is_failure(call);                              \
    ASSERT_FALSE(failed_) << #call << ": " << ::finesse::kernel_path::errno_name(errno) << " (" \
                          << std::strerror(errno) << ")";                                       \
  } while (0)
#define EXPECT_OK(call)                                                                         \
  do {                                                                                          \
    errno = 0;                                                                                  \
    const bool failed_ = ::finesse::kernel_path::is_failure(call);                              \
    EXPECT_FALSE(failed_) << #call << ": " << ::finesse::kernel_path::errno_name(errno) << " (" \
                          << std::strerror(errno) << ")";                                       \
  } while (0)

inline bool is_failure(long rc) {
  return rc < 0;
}
inline bool is_failure(const void *ptr) {
  return ptr == nullptr;
}

// (UniqueFd closes the descriptor when the test leaves the scope, also on a failed ASSERT,
// so that a failing test does not keep the mount busy.)
using finesse::UniqueFd;

// Whole-file helpers; they throw std::runtime_error (with errno text) on failure.
void write_file(const std::string &path, const std::string &content, mode_t mode = 0644);
std::string read_file(const std::string &path);
struct stat stat_of(const std::string &path);   // stat(2)
struct stat lstat_of(const std::string &path);  // lstat(2)

// Directory listing by readdir: name -> d_type, including "." and "..".
std::map<std::string, unsigned char> list_dir(const std::string &path);

// Timestamps.
bool before(const timespec &a, const timespec &b);
bool same_time(const timespec &a, const timespec &b);
timespec now_realtime();
// |a - b| <= slack_ms
bool close_to(const timespec &a, const timespec &b, long slack_ms = 2000);
std::string to_string(const timespec &t);
// Sleeps long enough for a file system's timestamps to tick (coarse kernel clocks: ~4 ms).
void let_time_pass();

}  // namespace finesse::kernel_path
