#include "synthetic_req.h"

#include "futex.h"

namespace finesse::server {

static_assert(SyntheticReqPool::kSize == 64, "one bit of used_ per request");

SyntheticReq *SyntheticReqPool::acquire() {
  uint64_t used = used_.load(std::memory_order_relaxed);
  for (;;) {
    if (~used == 0) return nullptr;
    int i = __builtin_ctzll(~used);
    if (used_.compare_exchange_weak(used, used | (uint64_t{1} << i), std::memory_order_acquire)) {
      SyntheticReq *r = &pool_[i];
      r->done.store(0, std::memory_order_relaxed);
      r->kind = ReplyKind::kNone;
      r->err = 0;
      r->buf = nullptr;
      r->buf_cap = r->buf_len = 0;
      r->xattr_size = 0;
      r->groups = nullptr;
      return r;
    }
  }
}

void SyntheticReqPool::release(SyntheticReq *r) {
  int i = static_cast<int>(r - pool_);
  used_.fetch_and(~(uint64_t{1} << i), std::memory_order_release);
}

SyntheticReq *SyntheticReqPool::find(fuse_req_t req) {
  auto p = reinterpret_cast<uintptr_t>(req);
  auto lo = reinterpret_cast<uintptr_t>(&pool_[0]);
  auto hi = reinterpret_cast<uintptr_t>(&pool_[kSize]);
  if (p < lo || p >= hi || (p - lo) % sizeof(SyntheticReq) != 0) return nullptr;
  return reinterpret_cast<SyntheticReq *>(req);
}

void complete(SyntheticReq *r, ReplyKind kind, int err) {
  r->kind = kind;
  r->err = err;
  r->done.store(1, std::memory_order_release);
  futex_wake(&r->done, 1);
}

void wait_reply(SyntheticReq *r) {
  while (r->done.load(std::memory_order_acquire) == 0) futex_wait(&r->done, 0, 0);
}

}  // namespace finesse::server
