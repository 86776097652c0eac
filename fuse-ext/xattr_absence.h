// Which xattrs a node has none of, as the bypass answers them: the rule (absent_xattr), and a
// memo of the file system's answers for directory listings (AbsentXattrMemo), so that a tree
// listed again (ls -lR, twice) does not ask the file system once more per entry.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "fs_call.h"

namespace finesse::server {

// Whether node ino, of mode, has no xattr bit (a wire::kXattr* bit) as the kernel answers it
// (ENODATA): the security label of any node; the ACLs of files and directories only, where
// no value or an empty one is none.
bool absent_xattr(const CallCtx &call, fuse_ino_t ino, mode_t mode, uint32_t bit);

// The file system's absent-xattr answers for nodes it listed with attributes, each held while
// the node's attributes as listed (inode, mode, ctime: an xattr change moves ctime) are the
// same, within the attribute timeout the file system gave, and while no change was seen
// through either path since it was asked (changed(): any at all, which is rare where trees are
// listed again). Fixed size: a newer answer takes an older one's place. One per daemon
// (Extension); thread-safe.
class AbsentXattrMemo {
 public:
  // What answers are recorded with: the moment of change they were asked at.
  uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }
  void changed() { epoch_.fetch_add(1, std::memory_order_acq_rel); }

  // The bits of want known for node ino with attr: true if all are, with *absent those it has
  // none of and *valid_ns how much longer that holds.
  bool find(fuse_ino_t ino, const struct stat &attr, uint32_t want, uint8_t *absent,
            int64_t *valid_ns);
  // Records that of asked, the file system had none of absent, for ino with attr, asked at
  // epoch, valid until expires_ns (now_ns()).
  void record(fuse_ino_t ino, const struct stat &attr, uint8_t asked, uint8_t absent,
              uint64_t epoch, int64_t expires_ns);

 private:
  struct Answer {
    fuse_ino_t ino = 0;
    ino_t st_ino = 0;
    mode_t mode = 0;
    struct timespec ctime {};
    uint64_t epoch = 0;
    int64_t expires_ns = 0;
    uint8_t asked = 0;
    uint8_t absent = 0;
  };
  static constexpr size_t kSlots = 16384;
  std::atomic<uint64_t> epoch_{1};
  std::mutex mu_;
  std::vector<Answer> slots_;  // kSlots once the first answer is recorded
};

}  // namespace finesse::server
