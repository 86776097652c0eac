// A sample file system started with libfinesse_fuse.so preloaded and attached with the
// loader library, as a user would with `finesse-loader attach`. Detached on destruction.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>

#include "control.h"
#include "finesse/finesse.h"
#include "harness.h"
#include "loader.h"

namespace finesse::testing {

// A test hook already in LD_PRELOAD stays in front of libfinesse_fuse.so.
inline MountOptions with_bypass(MountOptions o) {
  std::string &preload = o.env["LD_PRELOAD"];
  preload = (preload.empty() ? "" : preload + " ") + lib_dir() + "/libfinesse_fuse.so";
  return o;
}

// The test hook (tests/bypass/fs_hook.cpp), preloaded in front of libfinesse_fuse.so.
inline std::string fs_hook_lib() {
  return lib_dir() + "/libfinesse_test_fshook.so";
}

class AttachedFs {
 public:
  explicit AttachedFs(MountOptions opts, bool attach = true) : fs_(with_bypass(std::move(opts))) {
    if (attach) {
      loader::Outcome o = loader::attach(fs_.mountpoint());
      if (o.code != loader::kOk) throw std::runtime_error("attach failed: " + o.message);
      attached_ = true;
    }
    finesse_refresh_registry();
  }
  ~AttachedFs() { detach(); }
  void detach() {
    if (attached_) loader::detach(fs_.mountpoint());
    attached_ = false;
    finesse_refresh_registry();
  }
  MountedFs &fs() { return fs_; }
  const std::string &mnt() const { return fs_.mountpoint(); }
  std::string path(const std::string &rel) const { return fs_.path(rel); }

  // The server's counters, through its control socket.
  control::Stats stats() const {
    std::vector<loader::AttachedMount> all;
    loader::list_attached(&all);
    for (const auto &a : all)
      if (fs_.mountpoint() == a.entry.mount_path) return a.stats;
    return control::Stats{};
  }
  uint64_t served_total() const {
    control::Stats s = stats();
    uint64_t n = 0;
    for (uint64_t v : s.served) n += v;
    return n;
  }
  // Sends a control op to the server (root only ops: kFlush, kDetach); its reply in *rep.
  int control(control::Op op, control::Reply *rep = nullptr) const {
    std::vector<loader::AttachedMount> all;
    loader::list_attached(&all);
    for (const auto &a : all) {
      if (fs_.mountpoint() != a.entry.mount_path) continue;
      int fd = loader::control_connect(a.entry.socket_path);
      if (fd < 0) return fd;
      control::Reply r{};
      int rc = loader::control_call(fd, op, nullptr, rep ? rep : &r);
      ::close(fd);
      return rc;
    }
    return -ENOENT;
  }

 private:
  MountedFs fs_;
  bool attached_ = false;
};

}  // namespace finesse::testing
