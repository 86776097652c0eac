// Directory listings through the bypass (wire::Op::kReaddir). The server reads a directory
// with the file system's own opendir, readdirplus (readdir without it) and releasedir, all
// of it at once on one handle, as the kernel reads it on one: offsets are the file system's
// own cookies and no entry is skipped or given twice, whatever its offsets mean. The client
// gets as many entries as fit in a slot; the rest waits here, under a number, until the
// client fetches it, gives it back (closedir), or goes. readdirplus entries fill the cache,
// so that the stat calls that usually follow a listing are hits; while they are fresh there,
// the directory is listed again without attributes (NodeCache::listed_recently).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "result.h"
#include "serve_ctx.h"

namespace finesse::server {

// Entries in wire form (wire::DirEntry), one after another.
using EntryBytes = std::vector<char>;

// Reads directory dir (a node the request holds) from the file system's offset off to its
// end: 0, -errno as the file system answered, or kToKernel (too large to keep, no
// synthetic request free, a file system without readdir). With want (wire::kXattr* bits,
// wire::kListAttrs), each entry's node and attributes are taken from the readdirplus entry,
// the cache, or a lookup; the xattrs of want it has none of (as the file system answered,
// or the server's memo of its answers: xattr_absence.h) are set in its DirEntry::absent,
// and with kListAttrs its attributes follow it (wire::kEntryAttr); *absent_valid_ns gets
// how long those hold (the shortest of them; 0 if none).
Result read_directory(ServeCtx &ctx, fuse_ino_t dir, uint64_t off, uint32_t want, EntryBytes *out,
                      uint64_t *absent_valid_ns);

// Copies the whole entries of bytes from *pos that fit in cap bytes to out, advancing *pos;
// returns the bytes copied.
size_t copy_entries(const EntryBytes &bytes, size_t *pos, char *out, size_t cap);

// The bytes all clients' kept listings may take together (one per daemon: Extension).
class ListingBudget {
 public:
  static constexpr size_t kMaxBytes = size_t{256} << 20;
  bool take(size_t n);
  void give(size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

 private:
  std::atomic<size_t> used_{0};
};

// The listings one client has not fetched to their end, bounded in number and bytes, and by
// the daemon's budget.
class Listings {
 public:
  static constexpr size_t kMaxListings = 64;
  static constexpr size_t kMaxBytes = size_t{64} << 20;

  ~Listings() { clear(); }
  // Keeps bytes from pos on, charged to budget; its number, or 0 over the bounds.
  uint64_t keep(EntryBytes bytes, size_t pos, ListingBudget *budget);
  // The next entries of listing id that fit in cap; *end once none is left (the listing is
  // then dropped). False: no such listing (another process's, or already given back).
  bool take(uint64_t id, char *out, size_t cap, size_t *len, bool *end);
  void drop(uint64_t id);
  void clear();

 private:
  struct Kept {
    EntryBytes bytes;
    size_t pos = 0;
  };
  void erase_locked(std::unordered_map<uint64_t, Kept>::iterator it);
  std::mutex mu_;
  std::unordered_map<uint64_t, Kept> kept_;
  uint64_t next_ = 1;
  size_t bytes_ = 0;
  ListingBudget *budget_ = nullptr;  // the one every kept listing was charged to
};

}  // namespace finesse::server
