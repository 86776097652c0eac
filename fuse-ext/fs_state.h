// What libfinesse_fuse captured from the file system at fuse_session_new / _mount: its own
// ops table (the one the bypass calls), its userdata and session, and the serialisation lock
// used when the file system runs libfuse's single-threaded loop.
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <atomic>
#include <mutex>
#include <string>

#include "synthetic_req.h"

namespace finesse::server {

struct FsState {
  fuse_lowlevel_ops ops{};      // the file system's own ops (what the bypass calls)
  fuse_lowlevel_ops wrapped{};  // what libfuse got: trampolines around ops
  void *userdata = nullptr;
  fuse_session *session = nullptr;
  std::string mountpoint;
  std::atomic<bool> initialized{false};  // the kernel's INIT went through the file system
  std::atomic<bool> serialize{false};    // single-threaded loop: one op at a time
  unsigned conn_want = 0;                // capabilities the file system enabled at init
  std::mutex op_lock;                    // held around every op when serialize is set
  SyntheticReqPool reqs;                 // what the bypass calls ops with
  std::atomic<uint64_t> calls{0};        // ops the bypass called (fs_call.h)
};

// Takes fs's op_lock when the file system is single-threaded; nothing otherwise.
class OpGuard {
 public:
  explicit OpGuard(FsState &fs);
  ~OpGuard();
  OpGuard(const OpGuard &) = delete;
  OpGuard &operator=(const OpGuard &) = delete;

 private:
  FsState &fs_;
  bool locked_;
};

}  // namespace finesse::server
