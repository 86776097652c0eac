#include "node_cache.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>

namespace finesse::server {

int64_t expiry_after(int64_t now_ns, double timeout_s) {
  if (!(timeout_s > 0)) return 0;
  if (timeout_s > 1e9) timeout_s = 1e9;
  return now_ns + static_cast<int64_t>(timeout_s * 1e9);
}

size_t default_cache_entries() {
  size_t n = static_cast<size_t>(tuning().server_cache_entries);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    n = std::min<size_t>(n, std::max<rlim_t>(rl.rlim_cur / 2, 64));
  return n;
}

// The root is always present (the kernel holds it; the server never looks it up), so that
// its attributes are cached like any other node's and it can parent dentries.
NodeCache::NodeCache(size_t max_entries) : max_entries_(max_entries) {
  nodes_[FUSE_ROOT_ID].refs = 1;
}

uint64_t NodeCache::generation() const {
  std::lock_guard<std::mutex> g(mu_);
  return gen_;
}

CacheHit NodeCache::find(fuse_ino_t parent, std::string_view name, int64_t now_ns, Pins *pins) {
  CacheHit hit;
  std::lock_guard<std::mutex> g(mu_);
  auto it = dentries_.find(Key{parent, std::string(name)});
  if (it == dentries_.end() || it->second.expiry <= now_ns) return hit;
  lru_.splice(lru_.end(), lru_, it->second.lru);
  if (it->second.ino == 0) {
    hit.kind = CacheHit::kNegative;
    return hit;
  }
  auto n = nodes_.find(it->second.ino);
  if (n == nodes_.end()) return hit;
  hit.kind = CacheHit::kPositive;
  hit.ino = it->second.ino;
  hit.attr = n->second.attr;
  hit.attr_fresh = n->second.attr_expiry > now_ns;
  hit.attr_expiry = n->second.attr_expiry;
  if (pins != nullptr) {
    n->second.pins++;
    pins->nodes.push_back(hit.ino);
  }
  return hit;
}

bool NodeCache::node_attr(fuse_ino_t ino, int64_t now_ns, struct stat *attr, bool *fresh) {
  std::lock_guard<std::mutex> g(mu_);
  auto n = nodes_.find(ino);
  if (n == nodes_.end() || n->second.attr_expiry == 0) return false;
  *attr = n->second.attr;
  *fresh = n->second.attr_expiry > now_ns;
  return true;
}

void NodeCache::insert(fuse_ino_t parent, std::string_view name, const fuse_entry_param &e,
                       uint64_t gen_at_start, int64_t now_ns, std::vector<Forget> *forgets,
                       Pins *pins) {
  std::lock_guard<std::mutex> g(mu_);
  bool can_cache = gen_at_start == gen_ && nodes_.count(parent) != 0;
  if (!can_cache) {
    if (e.ino != 0) forgets->push_back({e.ino, 1});
    return;
  }
  Key key{parent, std::string(name)};
  auto it = dentries_.find(key);
  if (it != dentries_.end() && it->second.ino != e.ino) {
    remove_dentry_locked(parent, key.name, forgets);
    it = dentries_.end();
  }
  int64_t expiry = expiry_after(now_ns, e.entry_timeout);
  if (e.ino == 0) {
    if (expiry == 0) return;  // a negative entry that may not be cached
    if (it == dentries_.end()) {
      add_dentry_locked(key, 0, expiry);
      evict_locked(forgets);
    } else {
      it->second.expiry = expiry;
      lru_.splice(lru_.end(), lru_, it->second.lru);
    }
    return;
  }
  Node &n = nodes_[e.ino];
  n.nlookup++;
  if (pins != nullptr) {  // before the eviction below, which may take this very dentry
    n.pins++;
    pins->nodes.push_back(e.ino);
  }
  n.attr = e.attr;
  n.attr_expiry = expiry_after(now_ns, e.attr_timeout);
  if (n.attr_expiry == 0) n.attr_expiry = 1;  // known but stale: usable for `..`, not fresh
  if (it == dentries_.end()) {
    n.refs++;
    add_dentry_locked(key, e.ino, expiry);
    evict_locked(forgets);
  } else {
    it->second.expiry = expiry;
    lru_.splice(lru_.end(), lru_, it->second.lru);
  }
}

void NodeCache::add_dentry_locked(const Key &key, fuse_ino_t ino, int64_t expiry) {
  auto [it, added] = dentries_.emplace(key, Dentry{ino, expiry, {}});
  (void)added;
  it->second.lru = lru_.insert(lru_.end(), &it->first);
  nodes_[key.parent].children.insert(key.name);
}

// Least recently used first. The dentry just added goes last; the walk that added it used
// its ancestors' just before, so they go before it only when the bound is below the depth
// (then it goes with them, its lookup returned like theirs).
void NodeCache::evict_locked(std::vector<Forget> *forgets) {
  while (dentries_.size() > max_entries_ && !lru_.empty()) {
    Key victim = *lru_.front();  // a copy: removing the dentry frees its key
    remove_dentry_locked(victim.parent, victim.name, forgets);
  }
}

void NodeCache::set_attr(fuse_ino_t ino, const struct stat &attr, double timeout,
                         uint64_t gen_at_start, int64_t now_ns) {
  std::lock_guard<std::mutex> g(mu_);
  if (gen_at_start != gen_) return;
  const int64_t expiry = std::max<int64_t>(1, expiry_after(now_ns, timeout));
  auto n = nodes_.find(ino);
  if (n != nodes_.end()) {
    n->second.attr = attr;
    n->second.attr_expiry = expiry;
  }
  auto k = kernel_entries_naming_.find(ino);
  if (k == kernel_entries_naming_.end()) return;
  for (const Key *key : k->second) {
    KernelEntry &e = kernel_entries_.at(*key);
    e.attr = attr;
    e.attr_expiry = expiry;
  }
}

void NodeCache::remove_dentry_locked(fuse_ino_t parent, const std::string &name,
                                     std::vector<Forget> *forgets) {
  auto it = dentries_.find(Key{parent, name});
  if (it == dentries_.end()) return;
  fuse_ino_t ino = it->second.ino;
  lru_.erase(it->second.lru);
  dentries_.erase(it);
  auto p = nodes_.find(parent);
  if (p != nodes_.end()) p->second.children.erase(name);
  if (ino == 0) return;
  // The node lost a name: its link count and ctime changed, whatever else still names it.
  auto n = nodes_.find(ino);
  if (n != nodes_.end() && n->second.attr_expiry != 0) n->second.attr_expiry = 1;
  unref_locked(ino, forgets);
}

void NodeCache::unref_locked(fuse_ino_t ino, std::vector<Forget> *forgets) {
  auto n = nodes_.find(ino);
  if (n == nodes_.end()) return;
  if (n->second.refs > 0) n->second.refs--;
  release_if_unused_locked(ino, forgets);
}

void NodeCache::release_if_unused_locked(fuse_ino_t ino, std::vector<Forget> *forgets) {
  auto n = nodes_.find(ino);
  if (n == nodes_.end() || n->second.refs > 0) return;
  // Children first: their keys use this node's number, which the file system may reuse
  // once we forget it.
  std::vector<std::string> children(n->second.children.begin(), n->second.children.end());
  for (const auto &c : children) remove_dentry_locked(ino, c, forgets);
  n = nodes_.find(ino);
  if (n == nodes_.end() || n->second.pins > 0) return;
  if (n->second.nlookup > 0) forgets->push_back({ino, n->second.nlookup});
  nodes_.erase(n);
}

void NodeCache::unpin(Pins *pins, std::vector<Forget> *forgets) {
  if (pins->nodes.empty() && pins->kernel.empty()) return;
  std::lock_guard<std::mutex> g(mu_);
  for (fuse_ino_t ino : pins->nodes) {
    auto n = nodes_.find(ino);
    if (n == nodes_.end() || n->second.pins == 0) continue;
    if (--n->second.pins == 0) release_if_unused_locked(ino, forgets);
  }
  for (fuse_ino_t ino : pins->kernel) {
    auto h = kernel_holds_.find(ino);
    if (h == kernel_holds_.end() || --h->second.pins > 0) continue;
    if (h->second.waiting > 0) forgets->push_back({ino, h->second.waiting});
    kernel_holds_.erase(h);
  }
  kernel_hold_count_.store(kernel_holds_.size(), std::memory_order_relaxed);
  pins->nodes.clear();
  pins->kernel.clear();
}

void NodeCache::drop_entry(fuse_ino_t parent, std::string_view name,
                           std::vector<Forget> *forgets) {
  std::lock_guard<std::mutex> g(mu_);
  bump_locked();
  drop_entry_locked(parent, std::string(name), forgets);
}

uint64_t NodeCache::name_changed(fuse_ino_t parent, std::string_view name,
                                 std::vector<Forget> *forgets, bool keep_kernel_entry) {
  std::lock_guard<std::mutex> g(mu_);
  bump_locked();
  std::string n(name);
  if (keep_kernel_entry)
    remove_dentry_locked(parent, n, forgets);
  else
    drop_entry_locked(parent, n, forgets);
  expire_attr_locked(parent);
  return gen_;
}

void NodeCache::drop_entry_locked(fuse_ino_t parent, const std::string &name,
                                  std::vector<Forget> *forgets) {
  // The node the name led to lost a link: what kernel entries naming it by its other names
  // say of its link count and ctime is stale now too (a hard link removed, its twin stat'ed).
  const Key key{parent, name};
  auto d = dentries_.find(key);
  auto k = kernel_entries_.find(key);
  const fuse_ino_t victims[2] = {d != dentries_.end() ? d->second.ino : 0,
                                 k != kernel_entries_.end() ? k->second.ino : 0};
  remove_dentry_locked(parent, name, forgets);
  erase_kernel_entry_locked(parent, name);
  for (fuse_ino_t v : victims)
    if (v != 0) expire_kernel_entries_naming_locked(v);
}

void NodeCache::invalidate_attr(fuse_ino_t ino) {
  std::lock_guard<std::mutex> g(mu_);
  bump_locked();
  expire_attr_locked(ino);
}

void NodeCache::expire_attr_locked(fuse_ino_t ino) {
  auto n = nodes_.find(ino);
  if (n != nodes_.end() && n->second.attr_expiry != 0) n->second.attr_expiry = 1;
  expire_kernel_entries_naming_locked(ino);
}

void NodeCache::invalidate_all_attrs() {
  std::lock_guard<std::mutex> g(mu_);
  bump_locked();
  for (auto &[ino, n] : nodes_) {
    if (n.attr_expiry != 0) n.attr_expiry = 1;
    n.listed_until = 0;
  }
  clear_kernel_entries_locked();
}

void NodeCache::flush(std::vector<Forget> *forgets) {
  std::lock_guard<std::mutex> g(mu_);
  bump_locked();
  // Pinned nodes stay, nameless, until their requests end (unpin forgets them).
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    Node &n = it->second;
    n.children.clear();
    n.refs = 0;
    if (n.pins > 0 && it->first != FUSE_ROOT_ID) {
      ++it;
      continue;
    }
    if (n.nlookup > 0) forgets->push_back({it->first, n.nlookup});
    it = nodes_.erase(it);
  }
  lru_.clear();
  dentries_.clear();
  nodes_[FUSE_ROOT_ID].refs = 1;
  clear_kernel_entries_locked();
}

void NodeCache::note_kernel_entry(fuse_ino_t parent, std::string_view name,
                                  const fuse_entry_param &e, uint64_t gen_at_start,
                                  int64_t now_ns) {
  const int64_t expiry = expiry_after(now_ns, e.entry_timeout);
  if (e.ino == 0 || expiry == 0) return;  // nothing the kernel may use without asking
  const int64_t attr_expiry = std::max<int64_t>(1, expiry_after(now_ns, e.attr_timeout));
  std::lock_guard<std::mutex> g(mu_);
  if (gen_at_start != gen_) return;  // something changed while the file system answered
  Key key{parent, std::string(name)};
  erase_kernel_entry_locked(parent, key.name);
  // Bounded like the dentries; a full table starts over (listings fill it in order).
  if (kernel_entries_.size() >= max_entries_) clear_kernel_entries_locked();
  auto [it, added] =
      kernel_entries_.emplace(std::move(key), KernelEntry{e.ino, e.attr, expiry, attr_expiry});
  (void)added;
  kernel_entries_in_[parent].insert(&it->first);
  kernel_entries_naming_[e.ino].insert(&it->first);
  kernel_entry_count_.store(kernel_entries_.size(), std::memory_order_relaxed);
}

bool NodeCache::find_kernel_entry(fuse_ino_t parent, std::string_view name, int64_t now_ns,
                                  fuse_ino_t *ino, struct stat *attr, Pins *pins,
                                  bool *attr_fresh) {
  if (kernel_entry_count_.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard<std::mutex> g(mu_);
  auto it = kernel_entries_.find(Key{parent, std::string(name)});
  if (it == kernel_entries_.end() || it->second.expiry <= now_ns) return false;
  const bool fresh = it->second.attr_expiry > now_ns;
  if (attr_fresh != nullptr)
    *attr_fresh = fresh;
  else if (!fresh)
    return false;
  *ino = it->second.ino;
  *attr = it->second.attr;
  if (pins != nullptr) {
    // The entry exists, so the kernel has not forgotten the node (kernel_forgot erases its
    // entries under this lock before it lets a forget through).
    kernel_holds_[*ino].pins++;
    kernel_hold_count_.store(kernel_holds_.size(), std::memory_order_relaxed);
    pins->kernel.push_back(*ino);
  }
  return true;
}

void NodeCache::pin_kernel_node(fuse_ino_t ino, Pins *pins) {
  std::lock_guard<std::mutex> g(mu_);
  kernel_holds_[ino].pins++;
  kernel_hold_count_.store(kernel_holds_.size(), std::memory_order_relaxed);
  pins->kernel.push_back(ino);
}

uint64_t NodeCache::kernel_forgot(fuse_ino_t ino, uint64_t n) {
  if (kernel_entry_count_.load(std::memory_order_relaxed) == 0 &&
      kernel_hold_count_.load(std::memory_order_relaxed) == 0)
    return n;
  std::lock_guard<std::mutex> g(mu_);
  erase_kernel_entries_of_locked(ino);
  auto h = kernel_holds_.find(ino);
  if (h == kernel_holds_.end()) return n;
  h->second.waiting += n;
  return 0;
}

void NodeCache::clear_kernel_entries_locked() {
  kernel_entries_in_.clear();
  kernel_entries_naming_.clear();
  kernel_entries_.clear();
  kernel_entry_count_.store(0, std::memory_order_relaxed);
}

void NodeCache::erase_kernel_entry_locked(fuse_ino_t parent, const std::string &name) {
  auto it = kernel_entries_.find(Key{parent, name});
  if (it == kernel_entries_.end()) return;
  const Key *k = &it->first;
  unindex(kernel_entries_in_, parent, k);
  unindex(kernel_entries_naming_, it->second.ino, k);
  kernel_entries_.erase(it);
  kernel_entry_count_.store(kernel_entries_.size(), std::memory_order_relaxed);
}

void NodeCache::unindex(std::unordered_map<fuse_ino_t, KeySet> &index, fuse_ino_t ino,
                        const Key *k) {
  auto it = index.find(ino);
  if (it == index.end()) return;
  it->second.erase(k);
  if (it->second.empty()) index.erase(it);
}

// Every kernel entry naming ino or lying in it (its number may be reused once forgotten).
void NodeCache::erase_kernel_entries_of_locked(fuse_ino_t ino) {
  if (kernel_entries_.empty()) return;
  std::vector<Key> keys;
  for (auto *index : {&kernel_entries_in_, &kernel_entries_naming_}) {
    auto it = index->find(ino);
    if (it != index->end())
      for (const Key *k : it->second) keys.push_back(*k);
  }
  for (const Key &k : keys) erase_kernel_entry_locked(k.parent, k.name);
}

// The attributes of the kernel entries whose node is ino (not those lying in it: their
// attributes did not change with the directory's).
void NodeCache::expire_kernel_entries_naming_locked(fuse_ino_t ino) {
  auto it = kernel_entries_naming_.find(ino);
  if (it == kernel_entries_naming_.end()) return;
  for (const Key *k : it->second) kernel_entries_.at(*k).attr_expiry = 1;
}

bool NodeCache::holds(fuse_ino_t ino) const {
  std::lock_guard<std::mutex> g(mu_);
  return nodes_.count(ino) != 0;
}

void NodeCache::note_listed(fuse_ino_t ino, int64_t until_ns) {
  std::lock_guard<std::mutex> g(mu_);
  auto n = nodes_.find(ino);
  if (n != nodes_.end()) n->second.listed_until = until_ns;
}

bool NodeCache::listed_recently(fuse_ino_t ino, int64_t now_ns) const {
  std::lock_guard<std::mutex> g(mu_);
  auto n = nodes_.find(ino);
  return n != nodes_.end() && n->second.listed_until > now_ns;
}

uint64_t NodeCache::lookups_held() const {
  std::lock_guard<std::mutex> g(mu_);
  uint64_t total = 0;
  for (const auto &[ino, n] : nodes_) total += n.nlookup;
  return total;
}

size_t NodeCache::size() const {
  std::lock_guard<std::mutex> g(mu_);
  return dentries_.size();
}

}  // namespace finesse::server
