// Which files the kernel path may still change on release: a file system may commit
// buffered writes when a handle is closed (its size and times change then), but only after
// writes came through that path. Releases of files nobody wrote through the kernel path keep
// what the server and the kernel's recorded entries know of them (a file created through
// the kernel and closed unwritten stays answerable without a lookup).
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <mutex>
#include <unordered_map>

namespace finesse::server {

class OpenWriters {
 public:
  // A writable handle of ino is being opened (counted even if the open then fails: that
  // only keeps ino "maybe written" for good).
  void opened(fuse_ino_t ino) {
    std::lock_guard<std::mutex> g(mu_);
    if (overflowed()) return;
    writers_[ino].handles++;
  }
  // Data or size of ino changed through the kernel path (write, write_buf, fallocate).
  void wrote(fuse_ino_t ino) {
    std::lock_guard<std::mutex> g(mu_);
    if (overflowed()) return;
    writers_[ino].written = true;
  }
  // A writable handle of ino was released: whether the file system may have changed the
  // file now (written since the oldest writable handle still open was opened; or unknown).
  bool released(fuse_ino_t ino) {
    std::lock_guard<std::mutex> g(mu_);
    if (overflowed()) return true;
    auto it = writers_.find(ino);
    if (it == writers_.end()) return true;  // opened where we did not count it
    bool written = it->second.written;
    if (it->second.handles > 0 && --it->second.handles == 0) writers_.erase(it);
    return written;
  }

 private:
  struct Writers {
    int handles = 0;
    bool written = false;
  };
  // Past this many files (opens that failed pile up), every release counts as written.
  static constexpr size_t kMaxFiles = 1 << 16;
  bool overflowed() {
    if (!all_written_ && writers_.size() > kMaxFiles) {
      all_written_ = true;
      writers_.clear();
    }
    return all_written_;
  }

  std::mutex mu_;
  std::unordered_map<fuse_ino_t, Writers> writers_;
  bool all_written_ = false;
};

}  // namespace finesse::server
