// Which fds are directories on an attached Finesse mount, and where: filled by the open
// wrappers, kept right by close/close_range/closefrom/dup*/fcntl(F_DUPFD*)/closedir/fclose.
// A fixed array indexed by fd (kMaxFds entries, mmap'ed on first record), lock-free and
// async-signal-safe. Every event that can change what an fd number means bumps that fd's
// epoch, before and after the real call; a record is believed only while its epoch is
// current, and the server re-checks its path against its inode (PathArg.verify_*).
#pragma once

#include <cstddef>
#include <cstdint>

#include "bypass_ops.h"

namespace finesse::shim::fd_table {

constexpr int kMaxFds = 65536;

// Before open/openat(dirfd, path, O_DIRECTORY): a directory on an attached mount is opened to
// be listed, mostly (opendir, fts): its server, if asleep, is woken now
// (client::channel_expect_call), while the kernel opens the directory. Returns whether the
// path lies on an attached mount.
bool expect_listing(int dirfd, const char *path);
// After open/openat(dirfd, path) returned fd: record it if it is a directory on an attached
// mount (one statx, only for paths on an attached mount).
void note_open(int dirfd, const char *path, int fd);
// fd's number is about to be / was reused or closed (call before and after the real call).
void invalidate(int fd);
void invalidate_range(unsigned first, unsigned last);
// newfd now refers to what oldfd refers to (dup family): copy what we know.
void note_dup(int oldfd, int newfd);
// The base directory of dirfd, if known (BaseProvider contract of resolve.h).
bool base(int fd, char *out, size_t cap, uint64_t *ino, uint64_t *mnt_id);
// base(), or else learned from the kernel's facts (kernel_facts.h) and recorded: any fd on
// an attached mount (not only directories), its path from /proc/self/fd and inode.
bool known_or_learn(int fd, char *out, size_t cap, uint64_t *ino, uint64_t *mnt_id);
// Whether fd is known, for its current number's life, to be on no attached mount, and to
// record that (an fd-based call then goes to the kernel at the cost of two loads).
bool known_elsewhere(int fd);
void note_elsewhere(int fd);
// known_or_learn(), confirmed by the kernel's current fact for fd: the file an fd-based call
// (fstat, fchmod, ...) may be sent for, its path in out.
bool file(int fd, char *out, size_t cap, client::KnownFile *f);

}  // namespace finesse::shim::fd_table
