// Kernel requests that may change the file system (names, attributes, xattrs), from the
// trampoline that passes one to the file system until its reply: the reply is where clients
// hear of the change (RegionHeader::changes), after the file system made it and before the
// kernel's caller can see it done, whichever thread the file system replies from.
#pragma once

#include <fuse_lowlevel.h>

#include <atomic>
#include <mutex>
#include <vector>

namespace finesse::server {

class ChangeReplies {
 public:
  void expect(fuse_req_t req) {
    std::lock_guard<std::mutex> g(mu_);
    // A file system that never replied to some (a bug of its own) must not grow this.
    if (reqs_.size() >= kMax) reqs_.clear();
    reqs_.push_back(req);
    count_.store(reqs_.size(), std::memory_order_release);
  }
  // Whether req was expected (it is not any more).
  bool replying(fuse_req_t req) {
    if (count_.load(std::memory_order_acquire) == 0) return false;
    std::lock_guard<std::mutex> g(mu_);
    for (size_t i = 0; i < reqs_.size(); i++) {
      if (reqs_[i] != req) continue;
      reqs_[i] = reqs_.back();
      reqs_.pop_back();
      count_.store(reqs_.size(), std::memory_order_release);
      return true;
    }
    return false;
  }

 private:
  static constexpr size_t kMax = 4096;
  std::mutex mu_;
  std::vector<fuse_req_t> reqs_;
  std::atomic<size_t> count_{0};
};

}  // namespace finesse::server
