// What the kernel may have cached, learned from the replies libfuse sends it: an inode the
// kernel holds a lookup on may have dentries and attributes in the kernel's caches, and
// after a bypassed mutation those are invalidated (fuse_lowlevel_notify_*). A dentry or
// attributes the kernel got with timeout 0 are revalidated by the kernel before every use
// (it stores "expired" for them), so they need no notification before the client's answer.
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "wire.h"

namespace finesse::server {

class KernelView {
 public:
  // A reply giving the kernel an entry (lookup, mknod/mkdir/symlink/link/create, a
  // readdirplus entry): a lookup on e.ino, or with ino 0 a negative dentry.
  void note_entry(const fuse_entry_param &e);
  // A getattr/setattr reply (libfuse does not say for which inode).
  void note_attr_reply(double attr_timeout);
  // An opendir reply let the kernel cache the directory's contents (cache_readdir).
  void note_dir_cache() { dir_cache_.store(true, std::memory_order_relaxed); }
  void note_forget(fuse_ino_t ino, uint64_t n);
  bool known(fuse_ino_t ino) const;
  // The kernel may use a dentry naming ino without asking the file system.
  bool may_cache_entry(fuse_ino_t ino) const;
  // The kernel may use attributes of ino without asking the file system.
  bool may_cache_attr(fuse_ino_t ino) const;
  // The kernel was ever given attributes with a timeout on this mount (the file system
  // caches): the attributes of a file it holds open are then most likely in its cache.
  bool caches_attrs() const {
    return attr_replies_cached_.load(std::memory_order_relaxed) ||
           entry_attrs_cached_.load(std::memory_order_relaxed);
  }
  // The kernel may hold a negative dentry it uses without asking.
  bool may_cache_negative() const { return negative_cached_.load(std::memory_order_relaxed); }
  // The kernel may cache directory contents (readdir cache), which only an invalidation of
  // the directory resets.
  bool may_cache_dirs() const { return dir_cache_.load(std::memory_order_relaxed); }
  void clear();
  // Kernel lookups (and readdirplus) inside the file system: their replies may give the kernel
  // entries for names a bypassed call removes before note_entry sees them.
  void lookup_started() { in_flight_.fetch_add(1); }
  void lookup_done() { in_flight_.fetch_sub(1); }
  bool lookups_in_flight() const { return in_flight_.load() != 0; }
  // The kernel's FUSE protocol minor version (INIT): from 38 (Linux 6.2) an entry
  // notification may only expire a dentry (FUSE_EXPIRE_ONLY) instead of dropping it.
  void note_proto_minor(unsigned minor) { expire_only_.store(minor >= 38); }
  bool can_expire_only() const { return expire_only_.load(std::memory_order_relaxed); }
  // A kernel GETXATTR request for name: the kernel asks the file system for it (no security
  // module or ACL code of its own answered), so the bypass may too (wire::xattr_bit). True
  // the first time for that name.
  bool note_xattr_request(const char *name) {
    uint32_t bit = wire::xattr_bit(name);
    if (bit == 0 || (xattrs_forwarded_.load(std::memory_order_relaxed) & bit)) return false;
    return !(xattrs_forwarded_.fetch_or(bit, std::memory_order_acq_rel) & bit);
  }
  uint32_t xattrs_forwarded() const { return xattrs_forwarded_.load(std::memory_order_acquire); }

 private:
  struct Held {
    uint64_t nlookup = 0;
    bool entry_cached = false;  // some entry reply for it had entry_timeout > 0
    bool attr_cached = false;   // some entry reply for it had attr_timeout > 0
  };
  mutable std::mutex mu_;
  std::unordered_map<fuse_ino_t, Held> held_;
  // Sticky: the kernel's own timing (jiffies from when the requester resumed) is not ours,
  // so "cached once" is kept until the kernel forgets the inode (per inode) or for good.
  std::atomic<bool> attr_replies_cached_{false};
  std::atomic<bool> negative_cached_{false};
  std::atomic<bool> expire_only_{false};
  std::atomic<bool> entry_attrs_cached_{false};  // an entry reply had attr_timeout > 0
  std::atomic<bool> dir_cache_{false};
  std::atomic<int> in_flight_{0};
  std::atomic<uint32_t> xattrs_forwarded_{0};
};

// The kernel lookup, readdirplus or create (create, mkdir, mknod, symlink) this thread is
// handing to the file system, while bypass clients are connected: the entries its replies
// give the kernel are recorded for them
// (NodeCache::note_kernel_entry). Replies sent later from another thread are not.
struct EntryRequest {
  fuse_req_t req = nullptr;
  fuse_ino_t parent = 0;
  const char *name = nullptr;  // a lookup's name; nullptr for a readdirplus
  uint64_t gen = 0;            // the server cache's generation when the request began
};
EntryRequest &entry_request();  // this thread's

// Dentries of removed names that the kernel revalidates before any use (timeout 0) but that
// still hold their inode in the kernel: dropped after the client has its answer, so that the
// kernel releases the inode (and the file system its resources), as its own unlink would.
using DeferredDrops = std::vector<std::pair<fuse_ino_t, std::string>>;
// Sends them all; returns how many notifications were written.
int send_deferred(fuse_session *se, DeferredDrops *drops);

// Invalidations collected while serving a request and sent after every lock is released
// (the kernel takes directory locks to apply them, and a kernel request holding such a lock
// may be waiting for the file system).
class Invalidations {
 public:
  // name now exists in parent (the kernel may hold a negative dentry for it).
  void entry(fuse_ino_t parent, const std::string &name) { added_.push_back({parent, name}); }
  // name in parent no longer leads to victim.
  void gone(fuse_ino_t parent, const std::string &name, fuse_ino_t victim) {
    gone_.push_back({parent, name, victim});
  }
  void inode(fuse_ino_t ino) { inodes_.push_back(ino); }
  // Sends what the kernel could answer stale, before the client gets its answer; appends the
  // dentries to drop afterwards to *later. Returns how many notifications were written.
  int send(fuse_session *se, const KernelView &kv, DeferredDrops *later);

 private:
  struct Gone {
    fuse_ino_t parent;
    std::string name;
    fuse_ino_t victim;
  };
  std::vector<std::pair<fuse_ino_t, std::string>> added_;
  std::vector<Gone> gone_;
  std::vector<fuse_ino_t> inodes_;
};

}  // namespace finesse::server
