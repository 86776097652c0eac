// The file behind an fd of this process, when it sits on an attached Finesse mount: the
// kernel's fact for that fd number (finesse_track's map) names the mount and inode, and
// /proc/self/fd names its path; the server re-checks the path against the inode.
#pragma once

#include <cstddef>
#include <cstdint>

#include "bypass_ops.h"
#include "result.h"
#include "scratch.h"
#include "wire.h"

namespace finesse::client {

// The target of /proc/self/fd/<fd> into out, NUL-terminated; its length, or 0 if it is not
// an absolute path that fits. One readlink, no allocation.
size_t fd_path(int fd, char *out, size_t cap);

// The kernel's FUSE node id of the file fd refers to, and its mount id: FUSE's file handle
// (name_to_handle_at, answered by the kernel without asking the daemon) holds the node id.
// False for an fd on another file system, or where handles cannot be had.
bool fd_fuse_node(int fd, uint64_t *node, uint64_t *mnt_id);

// What an fd-based call needs of the fd itself; the kernel refuses the rest.
enum class FdUse {
  kAny,       // any fd, O_PATH too (fstat, fstatfs)
  kNotPath,   // not an O_PATH fd (fchmod, fchown, futimens, fgetxattr; else EBADF)
  kWritable,  // open for writing (ftruncate; else EINVAL)
};
// Whether fd allows `use` (one fcntl F_GETFL, a raw syscall, unless kAny).
bool fd_allows(int fd, FdUse use);

// Without any cache (libfinesse): true and *out filled (its path in buf) if fd is on an
// attached mount according to the kernel's facts.
bool fd_file(int fd, char *buf, size_t cap, KnownFile *out);

// op(file) for the file behind fd, found by find(fd, buf, cap, &file) (cached or not), when
// fd allows `use`; else kToKernel.
template <typename Find, typename Op>
Result on_fd_file(int fd, FdUse use, Find find, Op op) {
  Scratch *w = thread_scratch();  // the path: not on a stack that may be small
  KnownFile f;
  if (w == nullptr || !find(fd, w->fdpath, sizeof(w->fdpath), &f) || !fd_allows(fd, use))
    return kToKernel;
  return op(f);
}

}  // namespace finesse::client
