// The kernel's FUSE node id of a file, read from the file handle the kernel makes for it
// (name_to_handle_at; fs/fuse/inode.c encodes node id and generation as FILEID_INO64_GEN)
// without asking the FUSE daemon. Header-only, a raw system call, errno kept: the client
// (libc only, signal handlers) and the server share it.
#pragma once

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace finesse {

// The node id and mount id of what (dirfd, path, flags) names, as name_to_handle_at takes
// them (AT_EMPTY_PATH with "" for an fd itself, AT_SYMLINK_FOLLOW for /proc/<pid>/fd/<n>).
// False for a file on another file system or where no handle can be had.
inline bool fuse_node_of(int dirfd, const char *path, int flags, uint64_t *node, uint64_t *mnt_id) {
  constexpr int kFileIdIno64Gen = 0x81;
  struct {
    file_handle h;
    uint32_t words[4];
  } fh{};
  fh.h.handle_bytes = sizeof(fh.words);
  int mnt = 0;
  const int saved = errno;
  const long rc = syscall(SYS_name_to_handle_at, dirfd, path, &fh.h, &mnt, flags);
  errno = saved;
  if (rc != 0 || fh.h.handle_type != kFileIdIno64Gen || fh.h.handle_bytes != 12) return false;
  *node = (uint64_t{fh.words[0]} << 32) | fh.words[1];
  *mnt_id = static_cast<uint32_t>(mnt);
  return *node != 0;
}

}  // namespace finesse
