#include "kernel_view.h"

#include <algorithm>

namespace finesse::server {

KernelView &kernel_view() {
  static KernelView v;
  return v;
}

void KernelView::note_lookup(fuse_ino_t ino) {
  if (ino == 0 || ino == FUSE_ROOT_ID) return;
  std::lock_guard<std::mutex> g(mu_);
  nlookup_[ino]++;
}

void KernelView::note_forget(fuse_ino_t ino, uint64_t n) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = nlookup_.find(ino);
  if (it == nlookup_.end()) return;
  if (it->second <= n)
    nlookup_.erase(it);
  else
    it->second -= n;
}

bool KernelView::known(fuse_ino_t ino) const {
  if (ino == FUSE_ROOT_ID) return true;
  std::lock_guard<std::mutex> g(mu_);
  return nlookup_.count(ino) != 0;
}

void KernelView::clear() {
  std::lock_guard<std::mutex> g(mu_);
  nlookup_.clear();
}

int Invalidations::send(fuse_session *se) {
  if (se == nullptr) return 0;
  int sent = 0;
  const KernelView &kv = kernel_view();
  std::vector<fuse_ino_t> dirs_done;
  for (const auto &[parent, name] : entries_) {
    if (!kv.known(parent)) continue;
    fuse_lowlevel_notify_inval_entry(se, parent, name.data(), name.size());
    dirs_done.push_back(parent);
    sent++;
  }
  std::sort(inodes_.begin(), inodes_.end());
  inodes_.erase(std::unique(inodes_.begin(), inodes_.end()), inodes_.end());
  for (fuse_ino_t ino : inodes_) {
    if (!kv.known(ino)) continue;
    // An entry invalidation already marks its directory's attributes stale (the kernel's
    // fuse_reverse_inval_entry calls fuse_dir_changed): one write to /dev/fuse less.
    if (std::find(dirs_done.begin(), dirs_done.end(), ino) != dirs_done.end()) continue;
    // Negative offset: attributes only, keep the page cache (data did not change).
    fuse_lowlevel_notify_inval_inode(se, ino, -1, 0);
    sent++;
  }
  entries_.clear();
  inodes_.clear();
  return sent;
}

}  // namespace finesse::server
