// The shared-memory protocol between a client (userlib) and the server (fuse-ext).
//
// One memfd region per client connection: a header page, then kSlotCount slots. A client
// thread takes a free slot (process-local bitmap), writes a request, flips the slot's state
// to kPosted and waits (bounded spin, then futex). The server claims it (CAS kPosted ->
// kClaimed), copies the request out of shared memory before looking at it (the client may
// keep writing), serves it and publishes the reply with kDone. Nothing in the region is
// trusted by the server; the client trusts only the server it verified at connect time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "op_list.h"

namespace finesse::wire {

constexpr uint32_t kMagic = 0x464e5345;  // "ESNF"
constexpr uint32_t kVersion = 8;
constexpr uint32_t kSlotCount = 64;
constexpr uint32_t kSlotSize = 16384;
constexpr uint32_t kHeaderSize = 4096;
constexpr size_t kRegionSize = kHeaderSize + size_t{kSlotCount} * kSlotSize;
constexpr uint32_t kPathMax = 4096;  // including the NUL, like PATH_MAX
constexpr uint32_t kNameMax = 255;   // xattr names, like XATTR_NAME_MAX

enum SlotState : uint32_t { kFree = 0, kPosted = 1, kClaimed = 2, kDone = 3 };

// The bypassable operations (common/op_list.h), numbered from 1.
enum class Op : uint32_t {
#define FINESSE_WIRE_OP(n, Camel, lower, UPPER) k##Camel = n,
  FINESSE_OPS(FINESSE_WIRE_OP)
#undef FINESSE_WIRE_OP
      kCount = FINESSE_OP_END,
};
const char *op_name(Op op);
constexpr uint32_t kOpCount = static_cast<uint32_t>(Op::kCount);

// Reply result meaning "use the kernel path": nothing was changed.
constexpr int32_t kFallback = -100000;

// Request flags.
constexpr uint32_t kNoFollow = 1u << 0;  // do not follow a final symlink
constexpr uint32_t kEaccess = 1u << 1;   // access with effective ids
constexpr uint32_t kFollow2 = 1u << 2;   // link: follow a final symlink of path[0]
// The request acts on the file an fd of the client refers to (fstat, fchmod, ftruncate...):
// path[0] names it and verifies it (verify_len == path length). The server cannot check the
// fd itself, so it answers only successes (and ENODATA/ERANGE of getxattr); any other
// outcome, a permission refusal in particular, is FALLBACK and the kernel decides with the fd.
constexpr uint32_t kByFd = 1u << 3;
// path[0] (kCwdBase0) / path[1] (kCwdBase1) is relative to the client's cwd as the client
// cached it (the shim): verify_ino is that directory's inode number, also when verify_len is
// 0 (the cwd is the mount root). The cwd may have changed where the shim could not see it
// (inside libc, a raw system call): the server checks the client's real cwd, and answers
// FALLBACK if it is not that directory.
constexpr uint32_t kCwdBase0 = 1u << 4;
constexpr uint32_t kCwdBase1 = 1u << 5;
// stat: statx(AT_STATX_FORCE_SYNC): the final attributes from the file system, not a cache.
constexpr uint32_t kForceSync = 1u << 6;
// stat or setattr of the file an fd of the client refers to, by the kernel's own node id for it
// (Request::node, from name_to_handle_at: FUSE's file handle holds it) instead of a path:
// the server checks that the client's fd Request::fd refers to that node (the kernel's file
// handle of /proc/<pid>/fd/<fd>) and that the kernel holds it, and answers only successes.
constexpr uint32_t kByNode = 1u << 7;
// readdir: give back the listing Request::stream names (the client's closedir before its end).
constexpr uint32_t kRelease = 1u << 8;

// Setattr valid bits (subset of FUSE_SET_ATTR_*; the server maps them).
constexpr uint32_t kSetMode = 1u << 0;
constexpr uint32_t kSetUid = 1u << 1;
constexpr uint32_t kSetGid = 1u << 2;
constexpr uint32_t kSetSize = 1u << 3;
constexpr uint32_t kSetAtime = 1u << 4;
constexpr uint32_t kSetMtime = 1u << 5;
constexpr uint32_t kSetAtimeNow = 1u << 6;
constexpr uint32_t kSetMtimeNow = 1u << 7;
constexpr uint32_t kSetChown = 1u << 8;  // a chown call (even with uid = gid = -1)

// A string inside the slot's data area: off/len are relative to the data area; len excludes
// the terminating NUL, which must be present at data[off + len].
struct StrRef {
  uint32_t off;
  uint32_t len;
};

// A path relative to the mount root. If verify_len > 0, the first verify_len bytes of the path
// name a directory that the client believes has inode number verify_ino (its cwd or dirfd):
// the server checks that and falls back if it does not hold. verify_len == path length
// verifies the final component itself (any type): the client's fd refers to that inode.
struct PathArg {
  StrRef path;
  uint32_t verify_len;
  uint32_t pad;
  uint64_t verify_ino;
};

struct Request {
  uint32_t flags;
  uint32_t mode;   // access mask, mkdir/symlink mode, chmod mode
  uint32_t umask;  // the client's umask
  uint32_t valid;  // setattr
  uint32_t uid, gid;
  uint32_t rename_flags;
  int32_t fd;     // kByNode: the client's fd
  uint64_t size;  // truncate length, xattr/readlink buffer size
  int64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec;
  PathArg path[2];
  StrRef name;  // xattr name, symlink target
  uint64_t node;  // kByNode: the kernel's node id of the fd's file
  // readdir: 0 to list the directory (path[0], or the fd's node) from the file system's
  // offset `size`; else the listing an earlier reply named: its next entries (kRelease: none,
  // the listing is given back). A first listing's `mode` holds kXattr* bits: which of those
  // names each entry lacks (DirEntry::absent), as the file system answers (or answered
  // moments ago: the server's memo).
  uint64_t stream;
};

struct Attr {
  uint64_t ino, size, blocks;
  uint32_t mode, nlink, uid, gid, rdev, blksize;
  int64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
};

struct Statfs {
  uint64_t bsize, frsize, blocks, bfree, bavail, files, ffree, favail, namemax;
};

struct Reply {
  Attr attr;
  Statfs statfs;
  uint32_t data_len;  // bytes of data following this struct (readlink target, xattr value)
  uint32_t hints;     // kHint* bits: what the server knows that helps the client choose
  // readdir: the directory's node id (attr holds its attributes), and the listing's number
  // for the entries that did not fit (0: kHintListEnd, or nothing more is kept).
  uint64_t node;
  uint64_t stream;
  // readdir with kXattr* bits or kListAttrs asked: how long the entries' absent bits and
  // attributes hold (the shortest time left of the attribute timeouts they were answered
  // within; 0: none hold), counted from the request.
  uint64_t absent_valid_ns;
};

// readdir: a listing's entries, one after another in the reply's data, each 8-byte aligned:
// the file system's own d_ino, d_off (the cookie of the position after the entry, as
// getdents gives it), d_type and name (NUL-terminated).
struct DirEntry {
  uint64_t ino;
  uint64_t off;
  uint16_t namelen;  // without the NUL
  uint8_t type;
  // kXattr* bits asked (Request::mode) for which the file system had no such attribute of the
  // entry (ENODATA) when it was listed, or within the attribute timeout before; the entry's
  // type is `type` (not DT_UNKNOWN) when set.
  uint8_t absent;
  uint8_t flags;  // kEntryAttr
  uint8_t pad[3];
  char name[];
};
// DirEntry::flags: the entry's attributes (an Attr, fresh when listed) follow its name.
constexpr uint8_t kEntryAttr = 1u << 0;
constexpr size_t dir_entry_size(size_t namelen, bool attr = false) {
  return ((sizeof(DirEntry) + namelen + 1 + 7) & ~size_t{7}) + (attr ? sizeof(Attr) : 0);
}
inline size_t entry_size(const DirEntry &e) {
  return dir_entry_size(e.namelen, e.flags & kEntryAttr);
}
// The attributes an entry carries (kEntryAttr), or null.
inline const Attr *entry_attr(const DirEntry &e) {
  if (!(e.flags & kEntryAttr)) return nullptr;
  return reinterpret_cast<const Attr *>(reinterpret_cast<const char *>(&e) +
                                        dir_entry_size(e.namelen));
}
// The entry at *at among len bytes of entries, *at moved past it; null at the end or at an
// entry that would overrun len.
inline const DirEntry *next_dir_entry(const char *entries, size_t len, size_t *at) {
  if (*at > len || len - *at < sizeof(DirEntry)) return nullptr;
  auto *e = reinterpret_cast<const DirEntry *>(entries + *at);
  const size_t sz = entry_size(*e);
  if (sz > len - *at) return nullptr;
  *at += sz;
  return e;
}

// kBatch: several calls in one request (finesse_batch's independent calls). The slot's data
// holds a BatchHeader, then `count` calls one after another, each a BatchCall and its own
// request (a Request and its strings, StrRef offsets relative to that Request) padded to 8
// bytes. The server serves them in order, each exactly as if it came alone, and answers
// with `count` BatchReply at the start of the data area; a malformed call and those after it
// are answered FALLBACK (the client makes them itself). The slot's result is 0, or FALLBACK
// for a request of no calls or more than kBatchMax (none served).
constexpr uint32_t kBatchMax = 64;
struct BatchHeader {
  uint32_t count;
  uint32_t pad;
};
struct BatchCall {
  uint32_t op;   // batchable() only
  uint32_t len;  // bytes of the request that follows
};
struct BatchReply {
  int32_t result;  // 0 / -errno / kFallback
  uint32_t hints;
  Attr attr;  // kStat
};
// The calls a batch may carry: those whose answer is a result and, for a stat, attributes.
constexpr bool batchable(Op op) {
  switch (op) {
    case Op::kStat:
    case Op::kAccess:
    case Op::kUnlink:
    case Op::kRmdir:
    case Op::kMkdir:
    case Op::kRename:
    case Op::kSetattr:
    case Op::kSymlink:
    case Op::kLink:
      return true;
    default:
      return false;
  }
}
constexpr size_t batch_call_size(size_t request_len) {
  return (sizeof(BatchCall) + request_len + 7) & ~size_t{7};
}
static_assert(sizeof(BatchHeader) + kBatchMax * sizeof(BatchReply) <= 16384 - 64);

// The kernel holds this mount's attributes with a timeout (the file system gave them so): its
// fstat of an open fd answers from them without the daemon, cheaper than a bypassed one.
constexpr uint32_t kHintKernelCachesAttrs = 1u << 0;
// readdir: the last entry of this reply is the directory's last.
constexpr uint32_t kHintListEnd = 1u << 1;

// Extended attributes outside user.* that programs read for every file (`ls -l`: the SELinux
// label, the POSIX ACLs), one bit each. The kernel answers them itself where a security
// module or its ACL code claims them, and asks the file system otherwise; the server sees
// which it asks (RegionHeader::xattrs_forwarded) and only those are bypassed.
constexpr uint32_t kXattrSelinux = 1u << 0;     // security.selinux: the file system's value
constexpr uint32_t kXattrAclAccess = 1u << 1;   // system.posix_acl_access: none (ENODATA) only
constexpr uint32_t kXattrAclDefault = 1u << 2;  // system.posix_acl_default: likewise
// name's bit, 0 for any other name.
inline uint32_t xattr_bit(const char *name) {
  if (name == nullptr) return 0;
  auto is = [name](const char *s) {
    for (size_t i = 0;; i++) {
      if (name[i] != s[i]) return false;
      if (s[i] == '\0') return true;
    }
  };
  if (is("security.selinux")) return kXattrSelinux;
  if (is("system.posix_acl_access")) return kXattrAclAccess;
  if (is("system.posix_acl_default")) return kXattrAclDefault;
  return 0;
}
constexpr uint32_t kXattrAll = kXattrSelinux | kXattrAclAccess | kXattrAclDefault;
// readdir (a first listing's Request::mode): each entry's attributes, where the server has
// them fresh (DirEntry::flags kEntryAttr), for the stats that follow a listing.
constexpr uint32_t kListAttrs = 1u << 8;
// The name of one kXattr* bit.
inline const char *xattr_name(uint32_t bit) {
  switch (bit) {
    case kXattrSelinux:
      return "security.selinux";
    case kXattrAclAccess:
      return "system.posix_acl_access";
    case kXattrAclDefault:
      return "system.posix_acl_default";
    default:
      return nullptr;
  }
}

struct alignas(64) SlotHeader {
  std::atomic<uint32_t> state;            // SlotState; the futex word the client sleeps on
  std::atomic<uint32_t> client_sleeping;  // set by a client about to futex-wait
  uint32_t op;
  uint32_t req_len;  // bytes used in data (request struct and strings)
  int32_t result;    // 0 / -errno / kFallback; ssize for readlink/xattr calls
  uint32_t rep_len;
  uint64_t seq;
};

constexpr uint32_t kSlotDataSize = kSlotSize - sizeof(SlotHeader);

struct alignas(64) Slot {
  SlotHeader h;
  uint8_t data[kSlotDataSize];
};
static_assert(sizeof(Slot) == kSlotSize);
// The most data a reply carries after its Reply struct.
constexpr size_t kReplyDataMax = kSlotDataSize - sizeof(Reply);

struct alignas(64) RegionHeader {
  uint32_t magic;
  uint32_t version;
  uint32_t slot_count;
  uint32_t slot_size;
  alignas(64) std::atomic<uint32_t> server_idle;  // server threads are asleep: kick the eventfd
  // Moved by the server at least every millisecond while it is awake and not inside a file
  // system call (and when it wakes). Awake and still for long: the server is stuck in the
  // file system (a call that does not return), and clients use the kernel meanwhile.
  std::atomic<uint32_t> beat;
  alignas(64) std::atomic<uint32_t> closed;       // server stopped serving this connection
  // kXattr* bits of the names the kernel was seen handing to the file system (set by the
  // server, never cleared): the client asks the server for those only.
  std::atomic<uint32_t> xattrs_forwarded;
  // Bit i set: slot i was posted. Lets the server look at one word per client instead of
  // one cache line per slot. Only a hint: the slot's state decides.
  alignas(64) std::atomic<uint64_t> pending;
  // Moved by the server after every change to the file system through either path is made
  // and before it is answered (a bypassed mutation; a kernel unlink, rmdir, mkdir, mknod,
  // symlink, create, link, rename, setattr, setxattr, removexattr, write, fallocate,
  // copy_file_range, open with O_TRUNC, release after writes): what a client learnt from a
  // listing holds while this has not moved since before the listing was asked for. (An
  // ioctl, which a file system may give any meaning, does not move it.)
  alignas(64) std::atomic<uint64_t> changes;
};
static_assert(sizeof(RegionHeader) <= kHeaderSize);

inline Slot *slot_at(void *region, uint32_t i) {
  return reinterpret_cast<Slot *>(static_cast<uint8_t *>(region) + kHeaderSize +
                                  size_t{i} * kSlotSize);
}
inline RegionHeader *header_of(void *region) {
  return static_cast<RegionHeader *>(region);
}

// Handshake on the Unix socket (SOCK_SEQPACKET).
enum class HelloKind : uint32_t { kClient = 1, kControl = 2 };
struct Hello {
  uint32_t magic;
  uint32_t version;
  HelloKind kind;
  uint32_t pad;
};
enum class HelloStatus : uint32_t { kServed = 0, kNotServed = 1, kBadVersion = 2 };
// Server -> client after a kClient hello; with SCM_RIGHTS [memfd, eventfd] when kServed.
struct Welcome {
  uint32_t magic;
  uint32_t version;
  HelloStatus status;
  uint32_t slot_count;
  uint64_t region_size;
  uint32_t hints;  // Reply::hints that hold for the whole mount (kHintKernelCachesAttrs)
  uint32_t reserved;
};

}  // namespace finesse::wire
