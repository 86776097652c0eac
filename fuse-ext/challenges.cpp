#include "challenges.h"

#include <cerrno>

namespace finesse::server {

namespace {
constexpr size_t kKept = 16;  // challenges remembered (a loader asks right after its lookup)
}

void Challenges::note_lookup(fuse_req_t req, const char *nonce) {
  std::lock_guard<std::mutex> g(mu_);
  unreplied_.emplace_back(req, nonce);
  while (unreplied_.size() > kKept) unreplied_.pop_front();
  any_unreplied_.store(true);
}

void Challenges::note_reply(fuse_req_t req) {
  if (!any_unreplied_.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> g(mu_);
  for (auto it = unreplied_.begin(); it != unreplied_.end(); ++it) {
    if (it->first != req) continue;
    proven_.push_back(std::move(it->second));
    while (proven_.size() > kKept) proven_.pop_front();
    unreplied_.erase(it);
    break;
  }
  any_unreplied_.store(!unreplied_.empty());
}

int Challenges::check(const char *nonce, bool *first_miss) {
  std::lock_guard<std::mutex> g(mu_);
  int status = -ENOENT;
  for (const auto &s : proven_)
    if (s == nonce) status = 0;
  // The lookup came and the kernel has its answer, but not from our fuse_reply_*.
  for (const auto &[r, s] : unreplied_)
    if (s == nonce) status = -ENOTSUP;
  *first_miss = status == -ENOTSUP && !replies_missed_.exchange(true);
  return status;
}

}  // namespace finesse::server
