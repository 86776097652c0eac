// Calls into the file system's own fuse_lowlevel_ops with a synthetic request carrying the
// client's credentials, and waits for its reply. Each returns 0 or -errno, -ENOSYS when the
// file system lacks the op, or to the kernel when no synthetic request is free.
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cstddef>
#include <cstdint>

#include "creds.h"
#include "fs_state.h"
#include "result.h"

namespace finesse::server {

struct CallCtx {
  FsState *fs;  // whose ops are called
  const Creds *creds;
  mode_t umask;
};

Result fs_lookup(const CallCtx &c, fuse_ino_t parent, const char *name, fuse_entry_param *e);
Result fs_getattr(const CallCtx &c, fuse_ino_t ino, struct stat *attr, double *timeout);
Result fs_setattr(const CallCtx &c, fuse_ino_t ino, struct stat *in, int to_set, struct stat *out,
                  double *timeout);
Result fs_access(const CallCtx &c, fuse_ino_t ino, int mask);
Result fs_unlink(const CallCtx &c, fuse_ino_t parent, const char *name);
Result fs_rmdir(const CallCtx &c, fuse_ino_t parent, const char *name);
Result fs_mkdir(const CallCtx &c, fuse_ino_t parent, const char *name, mode_t mode,
                fuse_entry_param *e);
Result fs_symlink(const CallCtx &c, const char *target, fuse_ino_t parent, const char *name,
                  fuse_entry_param *e);
Result fs_link(const CallCtx &c, fuse_ino_t ino, fuse_ino_t newparent, const char *newname,
               fuse_entry_param *e);
Result fs_rename(const CallCtx &c, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                 const char *newname, unsigned flags);
// Data replies are copied to buf (cap bytes); *len gets the reply's full length.
Result fs_readlink(const CallCtx &c, fuse_ino_t ino, char *buf, size_t cap, size_t *len);
Result fs_statfs(const CallCtx &c, fuse_ino_t ino, struct statvfs *st);
// size == 0: *len gets the size needed (fuse_reply_xattr).
Result fs_getxattr(const CallCtx &c, fuse_ino_t ino, const char *name, size_t size, char *buf,
                   size_t *len);
Result fs_listxattr(const CallCtx &c, fuse_ino_t ino, size_t size, char *buf, size_t *len);
void fs_forget(FsState &fs, fuse_ino_t ino, uint64_t nlookup);
// A directory's handle for the listing calls below (fi as the opendir's reply; handle 0
// without an opendir op, as libfuse answers), with the caller's credentials.
Result fs_opendir(const CallCtx &c, fuse_ino_t ino, fuse_file_info *fi);
// At most size bytes of the file system's readdir (plus: readdirplus) reply from offset off,
// copied to buf (cap >= size); *len gets its length (0: the end). -ENOSYS without the op.
Result fs_readdir(const CallCtx &c, fuse_ino_t ino, size_t size, off_t off, fuse_file_info *fi,
                  bool plus, char *buf, size_t cap, size_t *len);
void fs_releasedir(FsState &fs, fuse_ino_t ino, fuse_file_info *fi);
// The file system's own handles, opened by the extension as the daemon (KernelHandles):
// fi->flags in, fi as the open's reply out (to the kernel: no synthetic request was free).
Result fs_open(FsState &fs, fuse_ino_t ino, fuse_file_info *fi);
// Flush (for a handle that was written) and release.
void fs_close(FsState &fs, fuse_ino_t ino, fuse_file_info *fi, bool flush);

}  // namespace finesse::server
