// What a listing said about the xattrs a process reads for every file it lists (`ls -l`: the
// security label and the access ACL): the entries the file system had none of, and the
// entries' attributes, kept for the most recent listing of a connection, so that those
// getxattr calls (ENODATA) and the stats that follow a listing are answered without a round
// trip. An answer holds while nothing changed through either path since the
// listing was asked for (RegionHeader::changes, and the connection it was read from) and for
// no longer than the entries' attribute timeout (a change the server cannot see, made below
// the file system, shows as late as a stale attribute in the kernel's cache would).
// Lock-free for readers that find it busy: a call that cannot look is simply not answered
// here. libc only (malloc), no allocation on lookups.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "wire.h"

namespace finesse::client {

class AbsentXattrs {
 public:
  struct Mark {
    uint64_t conn = 0;     // the connection's serial
    uint64_t changes = 0;  // its RegionHeader::changes
    bool operator==(const Mark &o) const { return conn == o.conn && changes == o.changes; }
  };
  // The directories a caller's path went through that the shim took from its own caches: the
  // listing answers only if it was of that very directory (dir_ino: a name directly in a
  // dirfd or the cwd) or was itself resolved from that very cwd (cwd_ino: a longer path
  // relative to the cwd, as `ls -lR dir` makes them). 0: not asked.
  struct Through {
    uint64_t dir_ino = 0;
    uint64_t cwd_ino = 0;
  };

  // A listing of directory dir (its path below the mount root, as sent; dir_ino: the inode
  // number the server found there; cwd_ino: the cwd's, which the server checked, when the
  // path was relative to it, else 0) asked for when changes read `mark`; its answers expire
  // at expires_ns. stream: the number under which the server keeps the rest of the listing
  // (0: none); entries: the first reply's DirEntry list. Whether an entry lacked any xattr.
  bool begin(const char *dir, size_t dir_len, Through listed, Mark mark, int64_t expires_ns,
             uint64_t stream, const char *entries, size_t len);
  // A later reply of listing `stream`: recorded if it is the one begun last.
  void more(uint64_t stream, const char *entries, size_t len);
  // Whether the file at rel (below the mount root) was listed without xattr `bit`, and that
  // still holds now; follow: the call follows a symlink (only files and directories answer);
  // through: what the listing must have been of, or resolved from (Through).
  bool absent(const char *rel, size_t rel_len, uint32_t bit, bool follow, Through through,
              Mark now_mark, int64_t now_ns);
  // The attributes the listing gave the file at rel (wire::kEntryAttr), if that still holds
  // now; follow: the call follows a symlink (a symlink's own attributes do not answer it).
  // through: as absent's.
  bool attr(const char *rel, size_t rel_len, bool follow, Through through, Mark now_mark,
            int64_t now_ns, wire::Attr *out);
  // Whether a reply's entries name anything but `.` and `..`.
  static bool any_named(const char *entries, size_t len);

  // Which directory this connection listed last (recorded or not), and whether rel lies in
  // it: a stat there would have been answered had the listing carried attributes.
  void note_listed_dir(const char *dir, size_t dir_len);
  bool in_listed_dir(const char *rel, size_t rel_len);
  // Whether this connection never listed a directory by path: nothing here can answer a call
  // (begin() follows note_listed_dir()), and no call owes the listings credit. Lock-free.
  bool nothing_listed() const { return listed_dir_hash_.load(std::memory_order_relaxed) == 0; }
  // Whether the listing recorded last carried attributes and none answered a call; true
  // once per listing.
  bool attrs_went_unused();

 private:
  struct Slot {
    uint32_t name_off;  // into names_; 0: empty slot (names_ starts with one unused byte)
    uint16_t name_len;
    uint8_t bits;
    uint8_t type;
    uint32_t attr;  // 1 + its index into attrs_; 0: none
  };
  static constexpr uint32_t kSlots = 8192;  // twice the entries with attributes a listing has

  bool lock() { return !busy_.exchange(true, std::memory_order_acquire); }
  void unlock() { busy_.store(false, std::memory_order_release); }
  // Whether an entry lacked any xattr.
  bool add_locked(const char *entries, size_t len);
  // The slot of rel's name if rel lies in the listed directory and the listing holds now.
  const Slot *find_locked(const char *rel, size_t rel_len, Through through, Mark now_mark,
                          int64_t now_ns) const;
  bool reserve_names(size_t more);

  std::atomic<bool> busy_{false};
  bool valid_ = false;
  size_t dir_len_ = 0;
  Through listed_;  // the listed directory's inode, and the cwd's it was resolved from
  Mark mark_;
  int64_t expires_ns_ = 0;
  uint64_t stream_ = 0;
  Slot *slots_ = nullptr;  // kSlots, malloc'd on first use, kept (never freed: see Conn)
  uint32_t used_ = 0;
  char *names_ = nullptr;
  size_t names_len_ = 0, names_cap_ = 0;
  wire::Attr *attrs_ = nullptr;  // kSlots / 2, malloc'd on the first listing with attributes
  uint32_t attrs_used_ = 0;
  uint32_t attr_hits_ = 0;  // calls the listing's attributes answered
  bool attrs_judged_ = false;
  // Of the directory listed last (0: none yet); written under the lock, read without it by
  // nothing_listed().
  std::atomic<uint64_t> listed_dir_hash_{0};
  // Last: a process that never lists does not touch its pages (these objects are static,
  // one per mount, initialised when the shim is loaded).
  char dir_[wire::kPathMax];
};

}  // namespace finesse::client
