// Synthetic fuse_req_t objects: the bypass calls the file system's ops with a pointer into
// a pool that libfuse never sees. The interposed fuse_reply_* / fuse_req_* functions
// recognise these by address alone (no dereference of a foreign pointer) and capture the
// reply here instead of writing to /dev/fuse.
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace finesse::server {

enum class ReplyKind : uint8_t {
  kNone,
  kErr,
  kEntry,
  kAttr,
  kReadlink,
  kBuf,
  kStatfs,
  kXattr,
  kOpen
};

struct SyntheticReq {
  std::atomic<uint32_t> done{0};  // futex word: 1 once the file system replied
  fuse_ctx ctx{};
  const std::vector<gid_t> *groups = nullptr;
  // The reply.
  ReplyKind kind = ReplyKind::kNone;
  int err = 0;  // positive errno, 0 on success
  fuse_entry_param entry{};
  struct stat attr {};
  double attr_timeout = 0;
  struct statvfs stv {};
  size_t xattr_size = 0;
  fuse_file_info fi{};  // an open's handle (KernelHandles)
  // Data replies (readlink, getxattr, listxattr) are copied into buf (capacity buf_cap).
  char *buf = nullptr;
  size_t buf_cap = 0;
  size_t buf_len = 0;
};

// The requests the bypass calls the file system with, at most kSize at a time.
class SyntheticReqPool {
 public:
  static constexpr int kSize = 64;
  // Never blocks; nullptr when all are in use (then fall back).
  SyntheticReq *acquire();
  void release(SyntheticReq *r);
  // req as one of ours, or nullptr (by its address alone).
  SyntheticReq *find(fuse_req_t req);

 private:
  SyntheticReq pool_[kSize];
  std::atomic<uint64_t> used_{0};
};

inline fuse_req_t to_fuse_req(SyntheticReq *r) { return reinterpret_cast<fuse_req_t>(r); }

// Records a reply and wakes the waiter. Returns 0 like libfuse's reply functions.
void complete(SyntheticReq *r, ReplyKind kind, int err);
// Waits until the file system replied (it may reply from another thread).
void wait_reply(SyntheticReq *r);

}  // namespace finesse::server
