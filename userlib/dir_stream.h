// Directory streams through the bypass, shared by the shim (under libc's names) and
// libfinesse (finesse_opendir...): the DIR* that opendir and fdopendir give for a directory
// on an attached mount, read from the server's listings (bypass_ops.h, Listing). It is not
// glibc's DIR: only the library's own readdir family may be handed one (the shim interposes
// every libc call that takes a DIR*; glibc's internal users, scandir, glob, nftw and fts,
// open streams of their own and never see ours).
//
// A stream holds a kernel fd of the directory only when it needs one: fdopendir's (then it
// owns it, as glibc's DIR does), or one opened for dirfd() and checked to be the listed
// directory. When a listing cannot go on (a fork child, whose connection does not know the
// parent's listing; a server gone), the stream turns into glibc's own stream on that fd,
// positioned at the cookie of the last entry given, and goes on through the kernel.
#pragma once

#include <dirent.h>

#include <cstddef>
#include <cstdint>

#include "result.h"

namespace finesse::client {

// How a library reaches the kernel's own calls (the shim: the next definitions; libfinesse:
// libc's), and what it knows of fds.
struct DirKernel {
  int (*open_dir)(const char *abs_path);  // as glibc's opendir opens one
  void (*close_fd)(int fd);
  DIR *(*fdopendir)(int fd);
  struct dirent64 *(*readdir)(DIR *d);
  long (*telldir)(DIR *d);
  void (*seekdir)(DIR *d, long pos);
  int (*dirfd)(DIR *d);
  int (*closedir)(DIR *d);
  // The absolute path and inode number of directory fd, if known without a system call.
  bool (*fd_path)(int fd, char *out, size_t cap, uint64_t *ino);  // may be null
  void (*opened)(const char *abs_path, int fd);  // an fd opened for dirfd(); may be null
};

struct DirStream;

// The stream behind d, or null when d is glibc's.
DirStream *dir_stream_of(DIR *d);

// opendir(path) / fdopendir(fd) through the bypass: a stream, the error as -errno, or
// kToKernel (nothing was done: the caller uses libc's). fdopendir's fd becomes the stream's;
// *elsewhere: fd is on no attached mount.
Result dir_open_path(const DirKernel *k, const char *path, DIR **out);
Result dir_open_fd(const DirKernel *k, int fd, DIR **out, bool *elsewhere);

// What opendir gives for dir_open_*'s answer rc (not kToKernel): the stream, or null with
// errno -rc. saved_errno is the caller's errno, which a success leaves.
DIR *dir_answer(Result rc, DIR *d, int saved_errno);

// The readdir family on a stream of ours. server_ok false: the caller may not talk to the
// server now (the shim inside one of its own calls: a signal handler's readdir), and what
// needs the server goes on through the kernel instead. dir_next: the next entry, or null at
// the end (errno untouched) or on an error (errno set, *failed). dir_seek(s, 0) is rewinddir.
struct dirent64 *dir_next(DirStream *s, bool server_ok, bool *failed);
long dir_tell(DirStream *s);
void dir_seek(DirStream *s, long pos, bool server_ok);
// The directory's kernel fd (opened on first use), or -1 with errno set.
int dir_fd(DirStream *s);
int dir_close(DirStream *s, bool server_ok);

}  // namespace finesse::client
