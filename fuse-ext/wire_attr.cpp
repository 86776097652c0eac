#include "wire_attr.h"

#include <unistd.h>

namespace finesse::server {

namespace {

// st_blksize as the kernel reports it (fs/fuse/inode.c): fuse_attr.blksize is 32 bits, a
// power of two below it, or the super block's block size (a page) when it is 0.
uint32_t kernel_blksize(blksize_t b) {
  uint32_t v = static_cast<uint32_t>(b);
  if (v == 0) return static_cast<uint32_t>(sysconf(_SC_PAGESIZE));
  return 1u << (31 - __builtin_clz(v));
}

}  // namespace

void to_wire(const struct stat &st, wire::Attr *a) {
  a->ino = st.st_ino;
  a->size = st.st_size;
  a->blocks = st.st_blocks;
  a->mode = st.st_mode;
  a->nlink = st.st_nlink;
  a->uid = st.st_uid;
  a->gid = st.st_gid;
  a->rdev = st.st_rdev;
  a->blksize = kernel_blksize(st.st_blksize);
  a->atime_sec = st.st_atim.tv_sec;
  a->atime_nsec = st.st_atim.tv_nsec;
  a->mtime_sec = st.st_mtim.tv_sec;
  a->mtime_nsec = st.st_mtim.tv_nsec;
  a->ctime_sec = st.st_ctim.tv_sec;
  a->ctime_nsec = st.st_ctim.tv_nsec;
}

}  // namespace finesse::server
