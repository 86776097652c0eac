#include "call.h"

#include <fcntl.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <cerrno>

#include "dot_names.h"

namespace finesse::client {

namespace {

// Whether a relative path has a "." or ".." component, or an empty one (the kernel resolves
// those physically, through symlinks and mounts; a listing knows them by name).
bool dotted(const char *path) {
  for (const char *p = path; *p != '\0';) {
    const char *end = strchrnul(p, '/');
    const size_t n = static_cast<size_t>(end - p);
    if (n == 0 || is_dot_name({p, n})) return true;
    p = *end == '/' ? end + 1 : end;
  }
  return false;
}

}  // namespace

void set_path(Call &c, int i, const Target &t) {
  c.req.path[i].verify_len = t.verify_len;
  c.req.path[i].verify_ino = t.verify_ino;
  if (t.cwd_base) c.req.flags |= i == 0 ? wire::kCwdBase0 : wire::kCwdBase1;
  if (i == 0) {
    c.s.path0 = t.rel;
    c.s.len0 = t.rel_len;
  } else {
    c.s.path1 = t.rel;
    c.s.len1 = t.rel_len;
  }
}

bool stat_req(Call &c, int flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT)) return false;  // AT_EMPTY_PATH...
  c.req.flags = (flags & AT_SYMLINK_NOFOLLOW) ? wire::kNoFollow : 0;
  return true;
}

bool statx_req(Call &c, int flags, unsigned mask, bool *listed) {
  constexpr unsigned kServed = STATX_BASIC_STATS | STATX_MNT_ID | STATX_BTIME;
  if (mask & ~kServed) return false;
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)) return false;
  c.req.flags = (flags & AT_SYMLINK_NOFOLLOW) ? wire::kNoFollow : 0;
  const bool force_sync = (flags & AT_STATX_SYNC_TYPE) == AT_STATX_FORCE_SYNC;
  if (force_sync) c.req.flags |= wire::kForceSync;
  *listed = !force_sync;
  return true;
}

bool access_req(Call &c, int mode, int flags) {
  if (mode & ~(R_OK | W_OK | X_OK)) return false;
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW)) return false;
  c.req.mode = static_cast<uint32_t>(mode);
  c.req.flags = ((flags & AT_EACCESS) ? wire::kEaccess : 0) |
                ((flags & AT_SYMLINK_NOFOLLOW) ? wire::kNoFollow : 0);
  return true;
}

bool unlink_req(int flags, wire::Op *op) {
  if (flags & ~AT_REMOVEDIR) return false;
  *op = (flags & AT_REMOVEDIR) ? wire::Op::kRmdir : wire::Op::kUnlink;
  return true;
}

bool fchmodat_req(Call &c, mode_t mode, int flags) {
  if (flags != 0) return false;  // AT_SYMLINK_NOFOLLOW: EOPNOTSUPP games, kernel's
  chmod_req(c, mode);
  return true;
}

bool fchownat_req(Call &c, uid_t uid, gid_t gid, int flags) {
  if (flags & ~AT_SYMLINK_NOFOLLOW) return false;
  chown_req(c, uid, gid);
  c.req.flags = (flags & AT_SYMLINK_NOFOLLOW) ? wire::kNoFollow : 0;
  return true;
}

bool utimensat_req(Call &c, const char *path, const struct timespec times[2], int flags) {
  if (path == nullptr || (flags & ~AT_SYMLINK_NOFOLLOW)) return false;
  c.req.flags = (flags & AT_SYMLINK_NOFOLLOW) ? wire::kNoFollow : 0;
  return times_req(c, times);
}

bool symlink_req(Call &c, const char *target) {
  if (target == nullptr || target[0] == '\0') return false;
  size_t tlen = strnlen(target, wire::kPathMax);
  if (tlen >= wire::kPathMax) return false;
  c.s.name = target;
  c.s.name_len = tlen;
  return true;
}

bool link_req(Call &c, int flags) {
  if (flags & ~AT_SYMLINK_FOLLOW) return false;
  c.req.flags = (flags & AT_SYMLINK_FOLLOW) ? wire::kFollow2 : 0;
  return true;
}

bool readlink_req(Call &c, size_t size) {
  if (size == 0) return false;  // EINVAL, the kernel's
  c.req.size = size;
  return true;
}

void chmod_req(Call &c, mode_t mode) {
  c.req.valid = wire::kSetMode;
  c.req.mode = mode;
}

void chown_req(Call &c, uid_t uid, gid_t gid) {
  c.req.valid = wire::kSetChown;
  c.req.uid = uid;
  c.req.gid = gid;
}

void size_req(Call &c, off_t length) {
  c.req.valid = wire::kSetSize;
  c.req.size = static_cast<uint64_t>(length);
}

// False: times the kernel must judge (invalid nanoseconds, nothing to change).
bool times_req(Call &c, const struct timespec times[2]) {
  long ans = times ? times[0].tv_nsec : UTIME_NOW;
  long mns = times ? times[1].tv_nsec : UTIME_NOW;
  auto valid_ns = [](long ns) {
    return ns == UTIME_NOW || ns == UTIME_OMIT || (ns >= 0 && ns < 1000000000);
  };
  if (!valid_ns(ans) || !valid_ns(mns)) return false;
  if (ans == UTIME_OMIT && mns == UTIME_OMIT) return false;
  if (ans != UTIME_OMIT) {
    c.req.valid |= wire::kSetAtime;
    if (ans == UTIME_NOW)
      c.req.valid |= wire::kSetAtimeNow;
    else
      c.req.atime_sec = times[0].tv_sec, c.req.atime_nsec = ans;
  }
  if (mns != UTIME_OMIT) {
    c.req.valid |= wire::kSetMtime;
    if (mns == UTIME_NOW)
      c.req.valid |= wire::kSetMtimeNow;
    else
      c.req.mtime_sec = times[1].tv_sec, c.req.mtime_nsec = mns;
  }
  return true;
}

// False: a name the kernel must judge (missing, too long, outside `user.`: the server
// declines those anyway, and asking it first would only add a round trip to, say, the ACL
// lookup `ls -l` makes for every file).
bool xattr_req(Call &c, const char *name, size_t size) {
  // Other names: the kernel, but for the few it hands the file system as they are (which the
  // server tells: channel_call).
  if (name == nullptr) return false;
  const uint32_t bit = wire::xattr_bit(name);
  if (strncmp(name, "user.", 5) != 0 && bit == 0) return false;
  size_t nlen = strnlen(name, wire::kNameMax + 1);
  if (nlen > wire::kNameMax) return false;
  c.req.size = size;
  c.s.name = name;
  c.s.name_len = nlen;
  c.s.xattr_bit = bit;
  return true;
}

void fill_statfs(const Call &c, struct statfs *st) {
  const wire::Statfs &s = c.rep.statfs;
  memset(st, 0, sizeof(*st));
  st->f_type = c.facts.f_type;
  st->f_bsize = static_cast<long>(s.bsize);
  st->f_blocks = s.blocks;
  st->f_bfree = s.bfree;
  st->f_bavail = s.bavail;
  st->f_files = s.files;
  st->f_ffree = s.ffree;
  st->f_fsid = c.facts.f_fsid;
  st->f_namelen = static_cast<long>(s.namemax);
  st->f_frsize = static_cast<long>(s.frsize);
  st->f_flags = c.facts.f_flags;
}

void fill_stat(const wire::Attr &a, const KernelFacts &f, struct stat *st) {
  memset(st, 0, sizeof(*st));
  st->st_dev = f.st_dev;
  st->st_ino = a.ino;
  st->st_mode = a.mode;
  st->st_nlink = a.nlink;
  st->st_uid = a.uid;
  st->st_gid = a.gid;
  st->st_rdev = a.rdev;
  st->st_size = static_cast<off_t>(a.size);
  st->st_blksize = a.blksize ? a.blksize : 4096;  // the kernel's default for FUSE
  st->st_blocks = static_cast<blkcnt_t>(a.blocks);
  st->st_atim = {a.atime_sec, a.atime_nsec};
  st->st_mtim = {a.mtime_sec, a.mtime_nsec};
  st->st_ctim = {a.ctime_sec, a.ctime_nsec};
}

void fill_statx(const wire::Attr &a, const KernelFacts &f, struct statx *stx) {
  memset(stx, 0, sizeof(*stx));
  stx->stx_mask = f.stx_mask;
  stx->stx_blksize = a.blksize ? a.blksize : 4096;
  stx->stx_attributes_mask = f.stx_attributes_mask;
  if (a.ino == f.root_ino) stx->stx_attributes = STATX_ATTR_MOUNT_ROOT & f.stx_attributes_mask;
  stx->stx_nlink = a.nlink;
  stx->stx_uid = a.uid;
  stx->stx_gid = a.gid;
  stx->stx_mode = static_cast<uint16_t>(a.mode);
  stx->stx_ino = a.ino;
  stx->stx_size = a.size;
  stx->stx_blocks = a.blocks;
  stx->stx_atime = {a.atime_sec, static_cast<uint32_t>(a.atime_nsec), 0};
  stx->stx_mtime = {a.mtime_sec, static_cast<uint32_t>(a.mtime_nsec), 0};
  stx->stx_ctime = {a.ctime_sec, static_cast<uint32_t>(a.ctime_nsec), 0};
  stx->stx_rdev_major = major(a.rdev);
  stx->stx_rdev_minor = minor(a.rdev);
  stx->stx_dev_major = f.stx_dev_major;
  stx->stx_dev_minor = f.stx_dev_minor;
  stx->stx_mnt_id = f.stx_mnt_id;
}

// Whether this process's latest listing may answer for (dirfd, path), resolved as t, and what
// it must have been of (*through). Below a base the shim took from its own caches (a dirfd,
// the cwd), whose path only the server can check: a name directly in it (`du` and `find` stat
// names through the dirfd they listed) when the listing was of that very inode; a longer path
// relative to the cwd (`ls -lR dir`) when the listing was itself resolved from that very cwd,
// which the server checked then (nothing changed since, or the listing would not answer); and
// then only if the kernel says the base is still that inode (listed_base_current).
bool listing_may_answer(const char *path, const Target &t, AbsentXattrs::Through *through) {
  if (!t.cached_base) return true;
  if (dotted(path)) return false;
  if (strchr(path, '/') == nullptr)
    through->dir_ino = t.base_ino;
  else if (t.cwd_base)
    through->cwd_ino = t.base_ino;
  else
    return false;
  return true;
}
bool listed_base_current(int dirfd, const Target &t) {
  return !t.cached_base || base_is_current(dirfd, t);
}

// A stat this process's latest listing answers (channel_listed_attr: c.rep.attr and c.facts
// as the server's reply would give them).
bool answered_by_listing(int dirfd, const char *path, const Target &t, Call &c) {
  AbsentXattrs::Through through;
  return listing_may_answer(path, t, &through) &&
         channel_listed_attr(t.m, t.rel, t.rel_len, !(c.req.flags & wire::kNoFollow), through,
                             &c.rep.attr, &c.facts) &&
         listed_base_current(dirfd, t);
}

}  // namespace finesse::client
