#include "kernel_handles.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>

#include <algorithm>

#include "fs_call.h"
#include "mount_info.h"
#include "tuning.h"

namespace finesse::server {

void KernelHandles::decide(fuse_conn_info *conn, const char *mountpoint) {
  if (env_int("FINESSE_KERNEL_NO_OPEN", 0) == 0) return;
  const char *why = nullptr;
  if (!(conn->capable & FUSE_CAP_NO_OPEN_SUPPORT))
    why = "the kernel does not support no_open";
  else if (fs_.ops.flock != nullptr || fs_.ops.getlk != nullptr || fs_.ops.setlk != nullptr)
    why = "the file system implements locks, which belong to handles";
  else if (fs_.ops.ioctl != nullptr || fs_.ops.poll != nullptr)
    why = "the file system implements ioctl or poll, which belong to handles";
  else if (!(conn->want & FUSE_CAP_AUTO_INVAL_DATA))
    why = "auto_inval_data is off (a kernel open would no longer drop stale cached data)";
  else if (mountpoint == nullptr || !read_mount_info(mountpoint).default_permissions)
    why = "the mount has no default_permissions (the file system's open would decide access)";
  if (why != nullptr) {
    fprintf(stderr, "finesse: FINESSE_KERNEL_NO_OPEN not used: %s\n", why);
    return;
  }
  // No OPEN will reach the file system to truncate: the kernel truncates with a SETATTR.
  conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
  engaged_.store(true, std::memory_order_relaxed);
}

int handle_flags(int kernel_flags, bool write) {
  const int kept = kernel_flags & (O_SYNC | O_DSYNC | O_DIRECT | O_NOATIME);
  return write ? O_WRONLY | kept | (kernel_flags & O_APPEND) : O_RDONLY | kept;
}

namespace {

// The flags of an adopted create's handle, as handle_flags keys them: one opened for reading
// and writing serves writes.
int adopted_flags(int create_flags) {
  return handle_flags(create_flags, (create_flags & O_ACCMODE) != O_RDONLY);
}

bool writes(int flags) {
  return (flags & O_ACCMODE) != O_RDONLY;
}

}  // namespace

KernelHandles::Handle *KernelHandles::find_locked(fuse_ino_t ino, int flags) {
  auto it = map_.find(ino);
  if (it == map_.end()) return nullptr;
  for (Handle &h : it->second)
    if (h.flags == flags) return &h;
  return nullptr;
}

int KernelHandles::get(fuse_ino_t ino, int flags, uint64_t *fh) {
  std::vector<Closing> closing;
  bool found = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    closing.swap(retired_);
    if (Handle *h = find_locked(ino, flags)) {
      h->users++;
      h->last_use = ++clock_;
      *fh = h->fi.fh;
      found = true;
    }
  }
  close(closing);
  if (found) return 0;
  fuse_file_info fi{};
  Result r = kToKernel;
  // No synthetic request free: they come back within a file-system call; never fail a read
  // for it.
  for (int tries = 0; r.to_kernel() && tries < 100000; tries++) {
    if (tries > 0) sched_yield();
    fi = fuse_file_info{};
    fi.flags = flags;
    r = fs_open(fs_, ino, &fi);
  }
  if (r.to_kernel()) return -EAGAIN;
  if (r.failed()) return static_cast<int>(r.rc());
  if (writes(flags)) writers_.opened(ino);
  {
    std::lock_guard<std::mutex> g(mu_);
    if (Handle *h = find_locked(ino, flags)) {  // another thread opened one meanwhile
      h->users++;
      h->last_use = ++clock_;
      *fh = h->fi.fh;
      closing.push_back({ino, fi, writes(flags)});
    } else {
      map_[ino].push_back({flags, fi, 1, ++clock_});
      open_++;
      *fh = fi.fh;
      evict_locked(&closing);
    }
  }
  close(closing);
  return 0;
}

void KernelHandles::put(fuse_ino_t ino, uint64_t fh) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = map_.find(ino);
  if (it == map_.end()) return;
  for (Handle &h : it->second)
    if (h.fi.fh == fh && h.users > 0) {
      h.users--;
      return;
    }
}

void KernelHandles::adopt(fuse_ino_t ino, const fuse_file_info &fi) {
  const int flags = adopted_flags(fi.flags);
  std::lock_guard<std::mutex> g(mu_);
  if (find_locked(ino, flags) != nullptr) {
    retired_.push_back({ino, fi, writes(flags)});
    return;
  }
  map_[ino].push_back({flags, fi, 0, ++clock_});
  open_++;
  adopted_.push_back(ino);
}

void KernelHandles::settle(const std::function<bool(fuse_ino_t)> &kernel_holds) {
  std::vector<Closing> closing;
  std::vector<fuse_ino_t> adopted;
  {
    std::lock_guard<std::mutex> g(mu_);
    closing.swap(retired_);
    adopted.swap(adopted_);
  }
  // (After the adoption: a forget handled since finds the handle and closes it itself; one
  // handled before shows here as an inode the kernel does not hold.)
  for (fuse_ino_t ino : adopted) {
    if (kernel_holds(ino)) continue;
    std::lock_guard<std::mutex> g(mu_);
    take_locked(ino, &closing);
  }
  close(closing);
}

void KernelHandles::take_at_locked(fuse_ino_t ino, std::vector<Handle> &list, size_t i,
                                   std::vector<Closing> *out) {
  out->push_back({ino, list[i].fi, writes(list[i].flags)});
  list[i] = list.back();
  list.pop_back();
  open_--;
}

void KernelHandles::take_locked(fuse_ino_t ino, std::vector<Closing> *out) {
  auto it = map_.find(ino);
  if (it == map_.end()) return;
  std::vector<Handle> &list = it->second;
  for (size_t i = 0; i < list.size();) {
    if (list[i].users == 0)
      take_at_locked(ino, list, i, out);
    else
      i++;
  }
  if (list.empty()) map_.erase(it);
}

void KernelHandles::forget(fuse_ino_t ino) {
  std::vector<Closing> closing;
  {
    std::lock_guard<std::mutex> g(mu_);
    closing.swap(retired_);
    take_locked(ino, &closing);
  }
  close(closing);
}

void KernelHandles::close_all() {
  std::vector<Closing> closing;
  {
    std::lock_guard<std::mutex> g(mu_);
    closing.swap(retired_);
    std::vector<fuse_ino_t> inos;
    for (const auto &[ino, list] : map_) inos.push_back(ino);
    for (fuse_ino_t ino : inos) take_locked(ino, &closing);
  }
  close(closing);
}

void KernelHandles::evict_locked(std::vector<Closing> *out) {
  if (open_ <= kMaxOpen) return;
  // Down to three quarters: one scan of the table per kMaxOpen / 4 opens.
  struct Idle {
    uint64_t last_use;
    fuse_ino_t ino;
    uint64_t fh;
  };
  std::vector<Idle> idle;
  for (const auto &[ino, list] : map_)
    for (const Handle &h : list)
      if (h.users == 0) idle.push_back({h.last_use, ino, h.fi.fh});
  std::sort(idle.begin(), idle.end(),
            [](const Idle &a, const Idle &b) { return a.last_use < b.last_use; });
  for (const Idle &v : idle) {
    if (open_ <= kMaxOpen * 3 / 4) break;
    auto it = map_.find(v.ino);
    std::vector<Handle> &list = it->second;
    for (size_t i = 0; i < list.size(); i++) {
      if (list[i].fi.fh != v.fh) continue;
      take_at_locked(v.ino, list, i, out);
      break;
    }
    if (list.empty()) map_.erase(it);
  }
}

void KernelHandles::close(std::vector<Closing> &list) {
  for (Closing &c : list) {
    fs_close(fs_, c.ino, &c.fi, c.written);
    // The file system may give a written file its final size and times at release.
    if (c.written && writers_.released(c.ino)) cache_.invalidate_attr(c.ino);
  }
  list.clear();
}

}  // namespace finesse::server
