// Kernel opens without a round trip (FINESSE_KERNEL_NO_OPEN=1, the daemon's environment).
// The kernel's OPEN is answered ENOSYS once, so that it stops sending OPEN, FLUSH and RELEASE
// for files (no_open, then no_flush) and opens and closes cost applications no round trip to
// the daemon, with or without the shim. Every file request then comes with handle 0; the
// extension serves it with a handle of the file system's own that it opened itself, one
// per inode and set of open flags that matter (handle_flags), shared by every kernel open of
// the file with those flags, closed when the kernel forgets the inode or past kMaxOpen.
//
// Only where it is safe (decided once, at INIT): the kernel checks access at open
// (default_permissions), the file system implements no locks (they are tied to handles),
// the kernel invalidates cached data when it sees a file's size or mtime change
// (auto_inval_data: a kernel open no longer drops the page cache), and the kernel knows
// no_open. Not for file systems whose open or release do more than open and close a file
// (memfs keeps an unlinked file alive by its open count): the knob is the daemon's owner's.
// O_TRUNC opens become a SETATTR (atomic_o_trunc is turned off: no OPEN would truncate), and
// close() no longer reports what the file system's flush would (writes and fsync still do).
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "fs_state.h"
#include "node_cache.h"
#include "open_writers.h"

namespace finesse::server {

// The open flags of the extension's handle for a kernel file opened with kernel_flags, for
// reading or writing: what changes how the file system's file behaves is kept (O_APPEND: a
// write lands at the file's real end, whatever size the kernel has cached; O_SYNC, O_DSYNC,
// O_DIRECT, O_NOATIME), so a handle behaves as the one the kernel's OPEN would have made.
int handle_flags(int kernel_flags, bool write);

class KernelHandles {
 public:
  static constexpr size_t kMaxOpen = 256;

  KernelHandles(FsState &fs, OpenWriters &writers, NodeCache &cache)
      : fs_(fs), writers_(writers), cache_(cache) {}
  ~KernelHandles() = default;
  KernelHandles(const KernelHandles &) = delete;
  KernelHandles &operator=(const KernelHandles &) = delete;

  // At INIT, after the file system's own init: engages the mode when asked and safe, and
  // then turns off atomic_o_trunc in conn->want. mountpoint: whose default_permissions.
  void decide(fuse_conn_info *conn, const char *mountpoint);
  bool engaged() const { return engaged_.load(std::memory_order_relaxed); }
  // A file request of the kernel whose handle is the extension's to give (engaged, fh 0).
  bool ours(const fuse_file_info *fi) const { return fi != nullptr && fi->fh == 0 && engaged(); }

  // The file system's handle of ino opened with `flags` (handle_flags), opened if needed,
  // held until put(ino, *fh). 0 or -errno (the open's error).
  int get(fuse_ino_t ino, int flags, uint64_t *fh);
  void put(fuse_ino_t ino, uint64_t fh);
  // A handle the file system opened for the kernel's CREATE (the kernel got handle 0): kept
  // as ino's handle with the create's flags, or closed later if one is there already.
  // Called inside the file system's create: nothing is closed there.
  void adopt(fuse_ino_t ino, const fuse_file_info &fi);
  // After a create returned from the file system: closes what adopt() set aside, and the
  // handles adopted for an inode the kernel no longer holds (a forget that was handled
  // before the adoption: nothing else would ever close them).
  void settle(const std::function<bool(fuse_ino_t)> &kernel_holds);
  // The kernel evicted ino: its handles are closed (none is in use: no file holds ino).
  void forget(fuse_ino_t ino);
  // Before the file system's destroy.
  void close_all();

 private:
  struct Handle {
    int flags = 0;
    fuse_file_info fi{};
    int users = 0;
    uint64_t last_use = 0;
  };
  struct Closing {
    fuse_ino_t ino;
    fuse_file_info fi;
    bool written;
  };

  Handle *find_locked(fuse_ino_t ino, int flags);
  // Takes the handles past kMaxOpen that nobody uses, least recently used first (mu_ held).
  void evict_locked(std::vector<Closing> *out);
  // Takes ino's unused handles for closing (mu_ held).
  void take_locked(fuse_ino_t ino, std::vector<Closing> *out);
  // Moves handle i of ino's list to out (mu_ held); the caller erases an emptied list.
  void take_at_locked(fuse_ino_t ino, std::vector<Handle> &list, size_t i,
                      std::vector<Closing> *out);
  // Closes outside mu_ and outside any file-system call of this thread.
  void close(std::vector<Closing> &list);

  FsState &fs_;
  OpenWriters &writers_;
  NodeCache &cache_;  // a written file's attributes, invalidated when its handle closes
  std::atomic<bool> engaged_{false};
  std::mutex mu_;
  std::unordered_map<fuse_ino_t, std::vector<Handle>> map_;  // a few per inode at most
  std::vector<Closing> retired_;     // adopted handles not kept, closed at the next settle
  std::vector<fuse_ino_t> adopted_;  // inodes adopted since the last settle
  size_t open_ = 0;
  uint64_t clock_ = 0;
};

}  // namespace finesse::server
