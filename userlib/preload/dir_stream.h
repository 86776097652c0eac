// Directory streams through the bypass: the DIR* that opendir and fdopendir return for a
// directory on an attached mount, read from the server's listings (bypass_ops.h, Listing).
// It is not glibc's DIR: only the shim's own readdir family may be handed one, and every
// libc entry point that takes a DIR* is interposed (wrappers_dir.cpp); glibc's internal
// users (scandir, glob, nftw, fts) open their own streams and never see ours.
//
// A stream holds a kernel fd of the directory only when it needs one: fdopendir's (then it
// owns it, as glibc's DIR does), or one opened for dirfd() and checked to be the listed
// directory. On any failure after entries were given (a server gone, a listing unknown to
// this process after a fork), the stream turns into glibc's own stream on that fd, positioned
// at the cookie of the last entry given, and goes on through the kernel.
#pragma once

#include <dirent.h>

#include "result.h"

namespace finesse::shim::dirs {

struct Stream;

// The stream behind d, or null when d is glibc's.
Stream *ours(DIR *d);

// opendir(path) / fdopendir(fd) through the bypass: a stream, or the error as -errno, or
// kToKernel (nothing was done: the caller uses libc's). fdopendir's fd becomes the stream's.
Result open_path(const char *path, DIR **out);
Result open_fd(int fd, DIR **out);

// The readdir family on a stream of ours. next: the next entry, or null at the end (errno
// untouched) or on an error (errno set; *failed).
struct dirent64 *next(Stream *s, bool *failed);
long tell(Stream *s);
void seek(Stream *s, long pos);
void rewind(Stream *s);
// The directory's kernel fd (opened on first use), or -1 with errno set.
int fd_of(Stream *s);
int close(Stream *s);

}  // namespace finesse::shim::dirs
