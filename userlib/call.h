// The parts of one bypassed call on paths, shared by the single calls (bypass_ops.cpp) and
// batches (batch_ops.cpp): the request being built, the argument checks that decide what the
// bypass may serve (each *_req is false when the kernel must judge the call), and the readers
// that turn a reply into what libc gives.
#pragma once

#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <time.h>

#include <cstdint>

#include "absent_xattrs.h"
#include "channel.h"
#include "resolve.h"
#include "wire.h"

namespace finesse::client {

struct Call {
  wire::Request req{};
  Strings s;
  wire::Reply rep{};
  KernelFacts facts{};
  uint64_t mnt_id = 0;  // by_node: the fd's mount
};

// Path i of c's request is t.
void set_path(Call &c, int i, const Target &t);

// Argument checks and request builders, one per call.
bool stat_req(Call &c, int flags);                                // fstatat
bool statx_req(Call &c, int flags, unsigned mask, bool *listed);  // listed: a listing may answer
bool access_req(Call &c, int mode, int flags);                    // faccessat
bool unlink_req(int flags, wire::Op *op);                         // unlinkat: kUnlink or kRmdir
bool fchmodat_req(Call &c, mode_t mode, int flags);
bool fchownat_req(Call &c, uid_t uid, gid_t gid, int flags);
bool utimensat_req(Call &c, const char *path, const struct timespec times[2], int flags);
bool symlink_req(Call &c, const char *target);
bool link_req(Call &c, int flags);  // linkat
bool readlink_req(Call &c, size_t size);
void chmod_req(Call &c, mode_t mode);
void chown_req(Call &c, uid_t uid, gid_t gid);
void size_req(Call &c, off_t length);
bool times_req(Call &c, const struct timespec times[2]);  // false: invalid or nothing to do
// False: a name the kernel must judge (missing, too long, outside `user.` but for the few
// wire::xattr_bit names).
bool xattr_req(Call &c, const char *name, size_t size);

// Replies as libc gives them.
void fill_stat(const wire::Attr &a, const KernelFacts &f, struct stat *st);
void fill_statx(const wire::Attr &a, const KernelFacts &f, struct statx *stx);
void fill_statfs(const Call &c, struct statfs *st);

// Whether this process's latest listing may answer for (dirfd, path), resolved as t, and what
// it must have been of (*through); listed_base_current: whether t's cached base still is.
bool listing_may_answer(const char *path, const Target &t, AbsentXattrs::Through *through);
bool listed_base_current(int dirfd, const Target &t);
// A stat this process's latest listing answers (channel_listed_attr: c.rep.attr and c.facts
// as the server's reply would give them).
bool answered_by_listing(int dirfd, const char *path, const Target &t, Call &c);

}  // namespace finesse::client
