// The loader's proof that a mount is served by this process (control::Op::kChallenge): it
// looks up control::kChallengePrefix + a nonce in the mount's root through the kernel, and
// asks us whether that lookup reached our file system and its reply passed through our
// fuse_reply_* (note_reply, for every kernel request): a libfuse that calls its replies
// directly (-Bsymbolic-functions) would hand the bypass's synthetic requests to the kernel.
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <utility>

namespace finesse::server {

class Challenges {
 public:
  // A kernel lookup of a challenge name, seen by the lookup trampoline.
  void note_lookup(fuse_req_t req, const char *nonce);
  // A reply to a kernel request passed through our fuse_reply_*.
  void note_reply(fuse_req_t req);
  // 0: proven; -ENOENT: no such lookup seen; -ENOTSUP: seen, but its reply went around us
  // (then *first_miss is true the first time: say so once).
  int check(const char *nonce, bool *first_miss);
  // Some reply went around us: the bypass must never run.
  bool replies_missed() const { return replies_missed_.load(std::memory_order_relaxed); }

 private:
  std::mutex mu_;
  std::deque<std::string> proven_;
  std::deque<std::pair<fuse_req_t, std::string>> unreplied_;  // lookups seen, reply not yet
  std::atomic<bool> any_unreplied_{false};
  std::atomic<bool> replies_missed_{false};
};

}  // namespace finesse::server
