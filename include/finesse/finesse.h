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
