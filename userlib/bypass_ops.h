// Client-side marshalling of every bypassed operation: resolve the path to an attached
// mount, build the request, interpret the reply. Each returns a Result (common/result.h):
// kToKernel when the kernel must serve the call (nothing was done), or the libc-style result
// with the error as -errno. Shared by libfinesse (explicit API) and libfinesse_preload (the shim).
#pragma once

#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <time.h>

#include <cstddef>
#include <cstdint>

#include "result.h"
#include "wire.h"

namespace finesse::client {

Result b_fstatat(int dirfd, const char *path, struct stat *st, int flags);
Result b_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *stx);
Result b_faccessat(int dirfd, const char *path, int mode, int flags);
Result b_unlinkat(int dirfd, const char *path, int flags);
Result b_mkdirat(int dirfd, const char *path, mode_t mode);
Result b_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
                   unsigned flags);
Result b_fchmodat(int dirfd, const char *path, mode_t mode, int flags);
Result b_fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags);
Result b_truncate(const char *path, off_t length);
Result b_utimensat(int dirfd, const char *path, const struct timespec times[2], int flags);
Result b_readlinkat(int dirfd, const char *path, char *buf, size_t size);
Result b_symlinkat(const char *target, int dirfd, const char *linkpath);
Result b_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags);
Result b_statfs(const char *path, struct statfs *st);
Result b_getxattr(const char *path, const char *name, void *value, size_t size, bool nofollow);
Result b_listxattr(const char *path, char *list, size_t size, bool nofollow);

// Calls on an fd by the kernel's node id of its file (wire::kByNode): no path, no walk, no
// fact; the server checks the fd names the node. Only in a process that connected to a
// server before. *elsewhere: the fd is on no attached mount (not a FUSE file, or not an
// attached one). Every refusal is the kernel's, as with KnownFile below.
Result b_fstat_fd(int fd, struct stat *st, bool *elsewhere = nullptr);
Result b_fchmod_fd(int fd, mode_t mode, bool *elsewhere = nullptr);
Result b_fchown_fd(int fd, uid_t uid, gid_t gid, bool *elsewhere = nullptr);
Result b_ftruncate_fd(int fd, off_t length, bool *elsewhere = nullptr);
Result b_futimens_fd(int fd, const struct timespec times[2], bool *elsewhere = nullptr);
Result b_fgetxattr_fd(int fd, const char *name, void *value, size_t size,
                      bool *elsewhere = nullptr);
Result b_fstatfs_fd(int fd, struct statfs *st, bool *elsewhere = nullptr);

// The file an fd refers to, known by absolute path, inode number and mount (fd_file.h finds
// them). The server serves a call on it only if the path still names that inode, and only
// when it succeeds: every refusal is left to the kernel, which sees the fd (wire::kByFd).
struct KnownFile {
  const char *abs_path;
  uint64_t ino;
  uint64_t mnt_id;
};
Result b_fstat_known(const KnownFile &f, struct stat *st);
Result b_fchmod_known(const KnownFile &f, mode_t mode);
Result b_fchown_known(const KnownFile &f, uid_t uid, gid_t gid);
// The caller checks that the fd is open for writing (else EINVAL, the kernel's).
Result b_ftruncate_known(const KnownFile &f, off_t length);
Result b_futimens_known(const KnownFile &f, const struct timespec times[2]);
Result b_fgetxattr_known(const KnownFile &f, const char *name, void *value, size_t size);
Result b_fstatfs_known(const KnownFile &f, struct statfs *st);

// Directory listings (wire::Op::kReaddir). A listing's first reply holds as many entries as
// fit in a slot (wire::DirEntry, one after another); when the directory has more, the server
// keeps the rest under a number and b_list_more fetches it. Read-only: a sleeping server is
// woken (a kernel listing costs a round trip per page of entries), and any failure leaves
// the listing to the kernel.
struct Listing {
  char data[wire::kReplyDataMax];
  size_t len = 0;       // bytes of entries in data
  bool end = false;     // the last entry in data is the directory's last
  uint64_t stream = 0;  // the server keeps the next entries under this number
  uint64_t mnt_id = 0;  // the directory's mount, node id and inode number
  uint64_t node = 0;
  uint64_t ino = 0;
};
// opendir: path from the file system's offset off; verify_ino != 0: only if path still names
// that inode. abs (kPathMax bytes, may be null) gets the directory's absolute path.
Result b_list_path(const char *path, uint64_t off, uint64_t verify_ino, Listing *l, char *abs);
// fdopendir: the directory fd refers to (by its node, as b_fstat_fd), from offset off.
Result b_list_fd(int fd, uint64_t off, Listing *l, bool *elsewhere = nullptr);
// The next entries of l's listing (l->stream != 0) into l.
Result b_list_more(Listing *l);
// Gives back the rest of a listing (closedir before its end).
void b_list_release(uint64_t mnt_id, uint64_t stream);

// Route bookkeeping for finesse_last_route() and the per-process counters.
void note_route(bool bypassed);
int last_route();
void client_stats(unsigned long long *bypassed, unsigned long long *kernel);

}  // namespace finesse::client
