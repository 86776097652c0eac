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

int KernelHandles::get(fuse_ino_t ino, bool write, fuse_file_info *out) {
  std::vector<Closing> closing;
  bool found = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    closing.swap(retired_);
    auto it = map_.find(ino);
    if (it != map_.end()) {
      Entry &e = it->second;
      Handle *h = write ? &e.wr : &e.rd;
      // A read may use a handle open for reading and writing.
      if (!write && !e.rd.open && e.wr.open && (e.wr.fi.flags & O_ACCMODE) == O_RDWR) h = &e.wr;
      if (h->open) {
        h->users++;
        h->last_use = ++clock_;
        *out = h->fi;
        found = true;
      }
    }
  }
  close(closing);
  if (found) return 0;
  fuse_file_info fi{};
  fi.flags = write ? O_WRONLY : O_RDONLY;
  Result r = kToKernel;
  // No synthetic request free: they come back within a file-system call; never fail a read
  // for it.
  for (int tries = 0; r.to_kernel() && tries < 100000; tries++) {
    if (tries > 0) sched_yield();
    fuse_file_info attempt = fi;
    r = fs_open(fs_, ino, &attempt);
    if (r.ok()) fi = attempt;
  }
  if (r.to_kernel()) return -EAGAIN;
  if (r.failed()) return static_cast<int>(r.rc());
  if (write) writers_.opened(ino);
  opened_total_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> g(mu_);
    Handle &h = write ? map_[ino].wr : map_[ino].rd;
    if (h.open) {  // another thread opened one meanwhile: use it, close ours
      h.users++;
      h.last_use = ++clock_;
      *out = h.fi;
      closing.push_back({ino, fi, write});
    } else {
      h.fi = fi;
      h.open = true;
      h.users = 1;
      h.last_use = ++clock_;
      open_++;
      *out = fi;
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
  for (Handle *h : {&it->second.rd, &it->second.wr})
    if (h->open && h->fi.fh == fh && h->users > 0) {
      h->users--;
      return;
    }
}

void KernelHandles::adopt(fuse_ino_t ino, const fuse_file_info &fi) {
  const int acc = fi.flags & O_ACCMODE;
  const bool write = acc != O_RDONLY;
  std::lock_guard<std::mutex> g(mu_);
  // O_APPEND would make every write an append whatever its offset (the kernel gives the
  // offsets); O_DIRECT has alignment rules that page-cache writes do not keep.
  Handle &h = write ? map_[ino].wr : map_[ino].rd;
  if ((fi.flags & (O_APPEND | O_DIRECT)) || h.open) {
    retired_.push_back({ino, fi, write});
    return;
  }
  h.fi = fi;
  h.open = true;
  h.users = 0;
  h.last_use = ++clock_;
  open_++;
  opened_total_.fetch_add(1, std::memory_order_relaxed);
}

void KernelHandles::take_locked(fuse_ino_t ino, Handle &h, bool write, std::vector<Closing> *out) {
  out->push_back({ino, h.fi, write});
  h = Handle{};
  open_--;
}

void KernelHandles::forget(fuse_ino_t ino) {
  std::vector<Closing> closing;
  {
    std::lock_guard<std::mutex> g(mu_);
    closing.swap(retired_);
    auto it = map_.find(ino);
    if (it != map_.end()) {
      Entry &e = it->second;
      if (e.rd.open && e.rd.users == 0) take_locked(ino, e.rd, false, &closing);
      if (e.wr.open && e.wr.users == 0) take_locked(ino, e.wr, true, &closing);
      if (!e.rd.open && !e.wr.open) map_.erase(it);
    }
  }
  close(closing);
}

void KernelHandles::close_all() {
  std::vector<Closing> closing;
  {
    std::lock_guard<std::mutex> g(mu_);
    closing.swap(retired_);
    for (auto it = map_.begin(); it != map_.end();) {
      Entry &e = it->second;
      if (e.rd.open && e.rd.users == 0) take_locked(it->first, e.rd, false, &closing);
      if (e.wr.open && e.wr.users == 0) take_locked(it->first, e.wr, true, &closing);
      it = !e.rd.open && !e.wr.open ? map_.erase(it) : std::next(it);
    }
  }
  close(closing);
}

size_t KernelHandles::open_now() {
  std::lock_guard<std::mutex> g(mu_);
  return open_;
}

void KernelHandles::evict_locked(std::vector<Closing> *out) {
  if (open_ <= kMaxOpen) return;
  // Down to three quarters: one scan of the table per kMaxOpen / 4 opens.
  struct Victim {
    uint64_t last_use;
    fuse_ino_t ino;
    bool write;
  };
  std::vector<Victim> idle;
  for (auto &[ino, e] : map_) {
    if (e.rd.open && e.rd.users == 0) idle.push_back({e.rd.last_use, ino, false});
    if (e.wr.open && e.wr.users == 0) idle.push_back({e.wr.last_use, ino, true});
  }
  std::sort(idle.begin(), idle.end(),
            [](const Victim &a, const Victim &b) { return a.last_use < b.last_use; });
  for (const Victim &v : idle) {
    if (open_ <= kMaxOpen * 3 / 4) break;
    auto it = map_.find(v.ino);
    take_locked(v.ino, v.write ? it->second.wr : it->second.rd, v.write, out);
    if (!it->second.rd.open && !it->second.wr.open) map_.erase(it);
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
