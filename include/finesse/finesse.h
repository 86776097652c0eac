/* libfinesse: the explicit client API of Finesse.
 *
 * Each function mirrors the libc call of the same name (same arguments, same return value,
 * errno set the same way). A call on a path of an attached Finesse mount is answered over
 * shared memory by the file system's own process; anything else, or anything the server
 * declines, goes to the kernel, so the answer is always the kernel's answer. */
#ifndef FINESSE_FINESSE_H
#define FINESSE_FINESSE_H

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

struct statx; /* <sys/stat.h> declares it only with _GNU_SOURCE */

int finesse_stat(const char *path, struct stat *st);
int finesse_lstat(const char *path, struct stat *st);
int finesse_fstatat(int dirfd, const char *path, struct stat *st, int flags);
int finesse_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx);
int finesse_access(const char *path, int mode);
int finesse_faccessat(int dirfd, const char *path, int mode, int flags);
int finesse_unlink(const char *path);
int finesse_unlinkat(int dirfd, const char *path, int flags);
int finesse_mkdir(const char *path, mode_t mode);
int finesse_mkdirat(int dirfd, const char *path, mode_t mode);
int finesse_rmdir(const char *path);
int finesse_rename(const char *oldpath, const char *newpath);
int finesse_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
                      unsigned int flags);
int finesse_chmod(const char *path, mode_t mode);
int finesse_fchmodat(int dirfd, const char *path, mode_t mode, int flags);
int finesse_chown(const char *path, uid_t owner, gid_t group);
int finesse_lchown(const char *path, uid_t owner, gid_t group);
int finesse_fchownat(int dirfd, const char *path, uid_t owner, gid_t group, int flags);
int finesse_truncate(const char *path, off_t length);
int finesse_utimensat(int dirfd, const char *path, const struct timespec times[2], int flags);
ssize_t finesse_readlink(const char *path, char *buf, size_t bufsiz);
int finesse_symlink(const char *target, const char *linkpath);
int finesse_link(const char *oldpath, const char *newpath);
int finesse_statfs(const char *path, struct statfs *buf);
ssize_t finesse_getxattr(const char *path, const char *name, void *value, size_t size);
ssize_t finesse_lgetxattr(const char *path, const char *name, void *value, size_t size);
ssize_t finesse_listxattr(const char *path, char *list, size_t size);

/* Calls on an open fd. Bypassed when the fd sits on an attached mount (the kernel's facts,
 * kept by finesse_track's BPF programs, say so) and the call succeeds; any refusal is the
 * kernel's, which sees the fd. Without the BPF programs loaded they always take the kernel. */
int finesse_fstat(int fd, struct stat *st);
int finesse_fchmod(int fd, mode_t mode);
int finesse_fchown(int fd, uid_t owner, gid_t group);
int finesse_ftruncate(int fd, off_t length);
int finesse_futimens(int fd, const struct timespec times[2]);
ssize_t finesse_fgetxattr(int fd, const char *name, void *value, size_t size);
int finesse_fstatfs(int fd, struct statfs *buf);

/* Directory streams. finesse_opendir/finesse_fdopendir give a DIR* read through the bypass
 * for a directory on an attached mount (libc's own otherwise): pass it to the finesse_
 * functions below only, never to libc's readdir family. finesse_dirfd opens the directory
 * in the kernel on first use. */
DIR *finesse_opendir(const char *path);
DIR *finesse_fdopendir(int fd);
struct dirent *finesse_readdir(DIR *dir);
long finesse_telldir(DIR *dir);
void finesse_seekdir(DIR *dir, long pos);
void finesse_rewinddir(DIR *dir);
int finesse_dirfd(DIR *dir);
int finesse_closedir(DIR *dir);

/* Batches: many calls given at once. Calls on attached mounts go to their servers together
 * (a server answers the next while the caller is still handing it the rest), calls elsewhere
 * or declined go to the kernel, and every call's outcome comes back in its own entry. */
enum finesse_op_kind {
  FINESSE_OP_STAT = 1, /* fstatat(dirfd, path, buf (a struct stat), flags) */
  FINESSE_OP_STATX,    /* statx(dirfd, path, flags, mask, buf (a struct statx)) */
  FINESSE_OP_ACCESS,   /* faccessat(dirfd, path, mode, flags) */
  FINESSE_OP_UNLINK,   /* unlinkat(dirfd, path, flags): AT_REMOVEDIR for rmdir */
  FINESSE_OP_MKDIR,    /* mkdirat(dirfd, path, mode) */
  FINESSE_OP_RENAME,   /* renameat2(dirfd, path, dirfd2, path2, flags) */
  FINESSE_OP_CHMOD,    /* fchmodat(dirfd, path, mode, flags) */
  FINESSE_OP_CHOWN,    /* fchownat(dirfd, path, uid, gid, flags) */
  FINESSE_OP_UTIMENS,  /* utimensat(dirfd, path, times, flags) */
  FINESSE_OP_SYMLINK,  /* symlinkat(path2, dirfd, path): a link at path to target path2 */
  FINESSE_OP_LINK,     /* linkat(dirfd, path, dirfd2, path2, flags) */
  FINESSE_OP_READLINK, /* readlinkat(dirfd, path, buf, size) */
  FINESSE_OP_GETXATTR, /* getxattr(path, name, buf, size), lgetxattr with AT_SYMLINK_NOFOLLOW
                          in flags; dirfd must be AT_FDCWD */
};

struct finesse_op {
  /* The call: only the fields its line above names are read. dirfd is AT_FDCWD for paths
   * relative to the cwd (0 is an fd like any other). */
  int op; /* enum finesse_op_kind */
  int dirfd;
  const char *path;
  int dirfd2;
  const char *path2;
  int flags;
  mode_t mode;
  uid_t uid;
  gid_t gid;
  unsigned int mask;
  const struct timespec *times;
  const char *name;
  void *buf;
  size_t size;
  /* Its outcome: the call's return value (-1 on failure), errno (0 on success) and route
   * (enum finesse_route; FINESSE_ROUTE_NONE when it was not made, error ECANCELED). */
  long result;
  int error;
  int route;
};

/* The calls may run in any order, at the same time: give dependent calls in separate batches
 * or ask for FINESSE_BATCH_ORDERED, where each call starts once the one before it returned. */
#define FINESSE_BATCH_ORDERED 1u
/* Ordered, and the calls after one that fails are not made (error ECANCELED). */
#define FINESSE_BATCH_STOP_ON_ERROR 2u

/* Makes the n calls of ops and fills in their outcomes. Returns how many of them failed
 * (result -1), or -1 with errno EINVAL for unknown flags (then no call is made). An entry of
 * an unknown kind fails with EINVAL. Not async-signal-safe; not to be left by a longjmp. */
long finesse_batch(struct finesse_op *ops, size_t n, unsigned int flags);

/* Which way the calling thread's last finesse_* call went. */
enum finesse_route {
  FINESSE_ROUTE_NONE = 0,   /* no call yet */
  FINESSE_ROUTE_BYPASS = 1, /* answered over shared memory by the file system */
  FINESSE_ROUTE_KERNEL = 2, /* went to the kernel (not attached, declined, or failed over) */
};
enum finesse_route finesse_last_route(void);

/* Per-process counts of calls by route. */
struct finesse_client_stats {
  unsigned long long bypassed;
  unsigned long long kernel;
  /* Of the kernel ones: the file system's server was stuck in a call that did not return
   * (FINESSE_SERVER_STUCK_MS without a beat), so the call went to the kernel without asking
   * it, or was withdrawn after waiting for it. */
  unsigned long long stalled_skipped;
  unsigned long long stalled_waited;
};
void finesse_get_client_stats(struct finesse_client_stats *out);

/* Forget the cached copy of the mount registry (it is otherwise re-read when older than
 * FINESSE_REGISTRY_TTL_MS, default 1000 ms). */
void finesse_refresh_registry(void);

#ifdef __cplusplus
}
#endif

#endif
