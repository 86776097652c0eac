#include "kernel_view.h"

#include <sys/uio.h>

#include <cerrno>

#include <algorithm>
#include <cstdint>

namespace finesse::server {

void KernelView::note_entry(const fuse_entry_param &e) {
  if (e.ino == 0) {
    if (e.entry_timeout > 0) negative_cached_.store(true, std::memory_order_relaxed);
    return;
  }
  if (e.ino == FUSE_ROOT_ID) return;
  if (e.attr_timeout > 0 && !entry_attrs_cached_.load(std::memory_order_relaxed))
    entry_attrs_cached_.store(true, std::memory_order_relaxed);
  std::lock_guard<std::mutex> g(mu_);
  Held &h = held_[e.ino];
  h.nlookup++;
  h.entry_cached |= e.entry_timeout > 0;
  h.attr_cached |= e.attr_timeout > 0;
}

void KernelView::note_attr_reply(double attr_timeout) {
  if (attr_timeout > 0) attr_replies_cached_.store(true, std::memory_order_relaxed);
}

void KernelView::note_forget(fuse_ino_t ino, uint64_t n) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = held_.find(ino);
  if (it == held_.end()) return;
  if (it->second.nlookup <= n)
    held_.erase(it);  // the kernel dropped the inode, and everything it cached about it
  else
    it->second.nlookup -= n;
}

bool KernelView::known(fuse_ino_t ino) const {
  if (ino == FUSE_ROOT_ID) return true;
  std::lock_guard<std::mutex> g(mu_);
  return held_.count(ino) != 0;
}

bool KernelView::may_cache_entry(fuse_ino_t ino) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = held_.find(ino);
  return it != held_.end() && it->second.entry_cached;
}

bool KernelView::may_cache_attr(fuse_ino_t ino) const {
  // Attribute replies do not name their inode: one with a timeout counts for every inode.
  if (attr_replies_cached_.load(std::memory_order_relaxed)) return known(ino);
  if (ino == FUSE_ROOT_ID) return false;  // the root's attributes come from getattr only
  std::lock_guard<std::mutex> g(mu_);
  auto it = held_.find(ino);
  return it != held_.end() && it->second.attr_cached;
}

void KernelView::clear() {
  std::lock_guard<std::mutex> g(mu_);
  held_.clear();
}

namespace {

bool contains(const std::vector<fuse_ino_t> &v, fuse_ino_t ino) {
  return std::find(v.begin(), v.end(), ino) != v.end();
}

// FUSE_NOTIFY_INVAL_ENTRY with FUSE_EXPIRE_ONLY (protocol 7.38), written as libfuse writes
// notifications (libfuse before 3.16 has no call for it): the dentry stays, expired, so the
// kernel asks the file system before its next use of it, and nothing is evicted now.
constexpr int32_t kNotifyInvalEntry = 3;
constexpr uint32_t kExpireOnly = 1;
struct OutHeader {
  uint32_t len;
  int32_t error;
  uint64_t unique;
};
struct InvalEntryOut {
  uint64_t parent;
  uint32_t namelen;
  uint32_t flags;
};

bool notify_expire_entry(fuse_session *se, fuse_ino_t parent, const std::string &name) {
  InvalEntryOut out{parent, static_cast<uint32_t>(name.size()), kExpireOnly};
  OutHeader h{static_cast<uint32_t>(sizeof(h) + sizeof(out) + name.size() + 1), kNotifyInvalEntry,
              0};
  iovec iov[3] = {{&h, sizeof(h)}, {&out, sizeof(out)}, {const_cast<char *>(name.c_str()),
                                                          name.size() + 1}};
  // ENOENT: the kernel has no such dentry (any more), which is as good.
  return writev(fuse_session_fd(se), iov, 3) == static_cast<ssize_t>(h.len) || errno == ENOENT;
}

}  // namespace

int send_deferred(fuse_session *se, DeferredDrops *drops) {
  int sent = 0;
  if (se != nullptr) {
    for (const auto &[parent, name] : *drops) {
      fuse_lowlevel_notify_inval_entry(se, parent, name.data(), name.size());
      sent++;
    }
  }
  drops->clear();
  return sent;
}

int Invalidations::send(fuse_session *se, const KernelView &kv, DeferredDrops *later) {
  int sent = 0;
  std::vector<fuse_ino_t> parents;       // directories whose entries changed
  std::vector<fuse_ino_t> dirs_changed;  // those the kernel already marked changed
  // Read after the file system's change: a lookup that starts later cannot find the name.
  const bool lookups_in_flight = kv.lookups_in_flight();
  if (se != nullptr) {
    for (const Gone &g : gone_) {
      parents.push_back(g.parent);
      // A dentry holds its inode: no lookup on the victim, no dentry naming it; unless a
      // kernel lookup found the name before it went and its reply, not seen yet, brings the
      // kernel a dentry. The kernel applies this under the directory's lock, which its lookup
      // holds: the notification waits for the dentry and then drops it.
      if (!kv.known(g.parent) || !kv.known(g.victim)) {
        if (!lookups_in_flight) continue;
        if (fuse_lowlevel_notify_inval_entry(se, g.parent, g.name.data(), g.name.size()) == 0)
          dirs_changed.push_back(g.parent);
        sent++;
        continue;
      }
      if (kv.may_cache_entry(g.victim)) {
        // The kernel may use this dentry without asking: it must not before the answer.
        // Expired, it is asked about first; dropped, it is gone, and its inode with it (an
        // eviction, and a FORGET that wakes a daemon thread): that much only after the answer.
        sent++;
        if (kv.can_expire_only() && notify_expire_entry(se, g.parent, g.name)) {
          dirs_changed.push_back(g.parent);  // fuse_dir_changed(), as for a drop
          later->push_back({g.parent, g.name});
          continue;
        }
        if (fuse_lowlevel_notify_inval_entry(se, g.parent, g.name.data(), g.name.size()) == 0)
          dirs_changed.push_back(g.parent);
        continue;
      }
      // Revalidated before any use, so only its inode is held: dropped after the answer.
      later->push_back({g.parent, g.name});
    }
    for (const auto &[parent, name] : added_) {
      parents.push_back(parent);
      // Only a negative entry with a timeout hides a new name from the kernel; the
      // negative dentries of ENOENT replies and of its own unlinks are always revalidated.
      if (!kv.may_cache_negative() || !kv.known(parent)) continue;
      if (fuse_lowlevel_notify_inval_entry(se, parent, name.data(), name.size()) == 0)
        dirs_changed.push_back(parent);
      sent++;
    }
    std::sort(inodes_.begin(), inodes_.end());
    inodes_.erase(std::unique(inodes_.begin(), inodes_.end()), inodes_.end());
    for (fuse_ino_t ino : inodes_) {
      // An entry notification that found its dentry already marked the directory changed
      // (fuse_dir_changed): one write to /dev/fuse less.
      if (contains(dirs_changed, ino)) continue;
      bool dir_contents = contains(parents, ino) && kv.may_cache_dirs();
      if (!kv.known(ino) || !(kv.may_cache_attr(ino) || dir_contents)) continue;
      // Negative offset: attributes only, keep the page cache (data did not change); a
      // directory's readdir cache lives in its pages.
      fuse_lowlevel_notify_inval_inode(se, ino, dir_contents ? 0 : -1, 0);
      sent++;
    }
  }
  added_.clear();
  gone_.clear();
  inodes_.clear();
  return sent;
}

EntryRequest &entry_request() {
  static thread_local EntryRequest r;
  return r;
}

}  // namespace finesse::server
