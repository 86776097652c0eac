// The server's own dentry and attribute cache, mirroring what the kernel keeps: entries
// and attributes expire after the timeouts the file system gave, exactly as in the kernel.
//
// Lookup balance: every positive lookup reply the server receives is one reference on the
// file system's inode. A node remembers how many it holds (nlookup) and they are returned
// with a single forget when the last dentry naming the node goes away. A directory node is
// never dropped while dentries below it are cached (its number could otherwise be reused).
//
// Pinned while in use: a request holds the nodes it got from the cache (find, insert) until it
// ends (unpin), so that another serving thread's drop, or a kernel-path change, never
// returns the file system's last lookup of a node a request is still calling it with (the
// kernel likewise holds an inode for the length of a request). A pinned node that loses its
// last name stays, forgotten only once the last pin goes. A node known from a kernel entry
// is pinned the same way against the kernel's forget (kernel_forgot): while a request uses
// it, the forget waits, so the kernel's node number may be called with.
//
// Bounded: beyond max_entries dentries the least recently used ones are dropped (a
// directory's with its cached subtree, whose entries were used no later than it through a
// path walk), and their lookups are returned like any other drop's.
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tuning.h"

namespace finesse::server {

struct Forget {
  fuse_ino_t ino;
  uint64_t nlookup;
};

// The nodes one request uses, pinned until it ends (NodeCache::unpin).
struct Pins {
  std::vector<fuse_ino_t> nodes;   // the server's own (a lookup of its cache)
  std::vector<fuse_ino_t> kernel;  // the kernel's (a kernel entry): its forget waits
  void add(const Pins &other) {
    nodes.insert(nodes.end(), other.nodes.begin(), other.nodes.end());
    kernel.insert(kernel.end(), other.kernel.begin(), other.kernel.end());
  }
};

struct CacheHit {
  enum Kind { kMiss, kNegative, kPositive } kind = kMiss;
  fuse_ino_t ino = 0;
  struct stat attr {};
  bool attr_fresh = false;
  int64_t attr_expiry = 0;  // now_ns() until which attr is fresh
};

// FINESSE_SERVER_CACHE_ENTRIES, but at most half the fds this process may open: a
// passthrough file system holds an fd per inode looked up, and the kernel's lookups need fds
// too (a bound above the limit makes lookups fail with EMFILE instead of evicting).
size_t default_cache_entries();

class NodeCache {
 public:
  explicit NodeCache(size_t max_entries = default_cache_entries());

  // A snapshot of the invalidation generation: results of file-system calls started before
  // an invalidation must not be cached.
  uint64_t generation() const;

  // A positive hit is pinned (its number appended to pins->nodes) when pins is not null.
  CacheHit find(fuse_ino_t parent, std::string_view name, int64_t now_ns, Pins *pins = nullptr);
  // Attributes of a node (fresh or not). False if the node is not cached.
  bool node_attr(fuse_ino_t ino, int64_t now_ns, struct stat *attr, bool *fresh);

  // Records a lookup reply (which holds one lookup on e.ino if e.ino != 0). If the cache
  // cannot keep it (invalidated meanwhile, or full), the lookup is appended to forgets (the
  // caller returns it when its request ends); a kept node is pinned like find's.
  void insert(fuse_ino_t parent, std::string_view name, const fuse_entry_param &e,
              uint64_t gen_at_start, int64_t now_ns, std::vector<Forget> *forgets,
              Pins *pins = nullptr);
  // Ends a request's pins (emptying *pins): nodes that lost their last name meanwhile, and
  // kernel forgets that waited, are forgotten now (appended to forgets).
  void unpin(Pins *pins, std::vector<Forget> *forgets);
  // The attributes the file system just gave for ino (the node's, and those of the kernel
  // entries naming it), unless the generation moved since gen_at_start.
  void set_attr(fuse_ino_t ino, const struct stat &attr, double timeout, uint64_t gen_at_start,
                int64_t now_ns);

  // Invalidation (bypass mutations and kernel-path mutations alike).
  void drop_entry(fuse_ino_t parent, std::string_view name, std::vector<Forget> *forgets);
  // A name of parent changed (created, removed): its dentry and (unless kept: just recorded
  // for a create) its kernel entry go and parent's attributes expire, with one move of the
  // generation, which it returns.
  uint64_t name_changed(fuse_ino_t parent, std::string_view name, std::vector<Forget> *forgets,
                        bool keep_kernel_entry = false);
  void invalidate_attr(fuse_ino_t ino);
  void invalidate_all_attrs();
  void flush(std::vector<Forget> *forgets);

  // Names the kernel was just given with their attributes (a readdirplus entry or a kernel
  // lookup reply, both holding the kernel's lookup, not the server's): enough to answer a
  // stat of the name as the kernel would answer it from its own cache until the entry's and
  // the attributes' timeouts, without a node number to call the file system with unless
  // pinned (find_kernel_entry). The entry goes with the dentry (drop_entry) and the kernel's
  // forget of either inode (forgotten); its attributes go stale with the node's
  // (invalidate_attr; a change of the directory's own attributes leaves its entries alone)
  // and are fresh again with set_attr. Kept only while the generation is gen_at_start.
  void note_kernel_entry(fuse_ino_t parent, std::string_view name, const fuse_entry_param &e,
                         uint64_t gen_at_start, int64_t now_ns);
  // The kernel's node for the name, and its attributes if fresh; without attr_fresh, only an
  // entry with fresh attributes is found. With pins: the node is pinned against the kernel's
  // forget until the request ends, and its number may be passed to the file system
  // meanwhile (to refresh stale attributes).
  bool find_kernel_entry(fuse_ino_t parent, std::string_view name, int64_t now_ns, fuse_ino_t *ino,
                         struct stat *attr, Pins *pins = nullptr, bool *attr_fresh = nullptr);
  // Pins the kernel's node ino against the kernel's forget until the request ends (its
  // forget then waits), whether or not the kernel still holds it: the caller checks that
  // after this (KernelView::known), so that a forget cannot slip in between.
  void pin_kernel_node(fuse_ino_t ino, Pins *pins);
  // The kernel forgot n lookups of ino: its entries go; returns how many lookups the file
  // system is to forget now (0: a request uses the node, and they wait for its unpin).
  uint64_t kernel_forgot(fuse_ino_t ino, uint64_t n);

  // Whether ino is a node of the cache (entries may be cached below it).
  bool holds(fuse_ino_t ino) const;
  // A listing of directory ino with attributes filled the cache (readdirplus), whose entries
  // stay fresh until until_ns: listings before then need no attributes of the file system
  // (dir_listing.cpp). Forgotten with the node.
  void note_listed(fuse_ino_t ino, int64_t until_ns);
  bool listed_recently(fuse_ino_t ino, int64_t now_ns) const;
  uint64_t lookups_held() const;
  size_t size() const;

 private:
  struct Node {
    struct stat attr {};
    int64_t attr_expiry = 0;  // 0: not valid
    uint64_t nlookup = 0;
    uint32_t refs = 0;  // dentries naming this node
    uint32_t pins = 0;  // requests using its number now
    int64_t listed_until = 0;  // note_listed
    std::unordered_set<std::string> children;
  };
  struct Key;
  using LruList = std::list<const Key *>;  // least recently used first
  struct Dentry {
    fuse_ino_t ino = 0;  // 0: negative
    int64_t expiry = 0;
    LruList::iterator lru;
  };
  struct Key {
    fuse_ino_t parent;
    std::string name;
    bool operator==(const Key &o) const { return parent == o.parent && name == o.name; }
  };
  struct KeyHash {
    size_t operator()(const Key &k) const {
      return std::hash<std::string>()(k.name) * 31 + std::hash<fuse_ino_t>()(k.parent);
    }
  };

  void remove_dentry_locked(fuse_ino_t parent, const std::string &name,
                            std::vector<Forget> *forgets);
  void unref_locked(fuse_ino_t ino, std::vector<Forget> *forgets);
  // Forgets a node nothing names or pins any more (its cached subtree first).
  void release_if_unused_locked(fuse_ino_t ino, std::vector<Forget> *forgets);
  void bump_locked() { gen_++; }
  // A new dentry for key (which must not be cached), most recently used.
  void add_dentry_locked(const Key &key, fuse_ino_t ino, int64_t expiry);
  void evict_locked(std::vector<Forget> *forgets);
  void drop_entry_locked(fuse_ino_t parent, const std::string &name, std::vector<Forget> *forgets);
  void erase_kernel_entry_locked(fuse_ino_t parent, const std::string &name);
  void erase_kernel_entries_of_locked(fuse_ino_t ino);
  void expire_kernel_entries_naming_locked(fuse_ino_t ino);
  void expire_attr_locked(fuse_ino_t ino);
  void clear_kernel_entries_locked();

  mutable std::mutex mu_;
  uint64_t gen_ = 1;
  size_t max_entries_;
  std::unordered_map<fuse_ino_t, Node> nodes_;
  std::unordered_map<Key, Dentry, KeyHash> dentries_;
  LruList lru_;  // points at the keys in dentries_ (stable: node-based map)

  struct KernelEntry {
    fuse_ino_t ino;
    struct stat attr;
    int64_t expiry;       // the entry's (the name's)
    int64_t attr_expiry;  // the attributes': 1 once they changed (a stat refreshes them)
  };
  std::unordered_map<Key, KernelEntry, KeyHash> kernel_entries_;
  // The kernel entries lying in a directory, and those naming a node (sets: a directory may
  // hold thousands, and each erase must stay O(1)).
  using KeySet = std::unordered_set<const Key *>;
  std::unordered_map<fuse_ino_t, KeySet> kernel_entries_in_;
  std::unordered_map<fuse_ino_t, KeySet> kernel_entries_naming_;
  static void unindex(std::unordered_map<fuse_ino_t, KeySet> &index, fuse_ino_t ino, const Key *k);
  std::atomic<size_t> kernel_entry_count_{0};  // read without the lock
  struct KernelHold {
    uint32_t pins = 0;
    uint64_t waiting = 0;  // lookups the kernel forgot meanwhile
  };
  std::unordered_map<fuse_ino_t, KernelHold> kernel_holds_;
  std::atomic<size_t> kernel_hold_count_{0};  // read without the lock
};

int64_t expiry_after(int64_t now_ns, double timeout_s);

}  // namespace finesse::server
