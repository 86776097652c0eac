#include "bypass_ops.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <atomic>
#include <cerrno>

#include "channel.h"
#include "fd_file.h"
#include "resolve.h"
#include "result.h"
#include "scratch.h"
#include "wire.h"

namespace finesse::client {

namespace {

using wire::Op;

thread_local int t_last_route = 0;
std::atomic<unsigned long long> g_bypassed{0}, g_kernel{0};

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

struct Call {
  wire::Request req{};
  Strings s;
  wire::Reply rep{};
  KernelFacts facts{};
  uint64_t mnt_id = 0;  // by_node: the fd's mount
};

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

// data: where the reply's data goes (the scratch's when the caller has no buffer).
Result send(const Target &t, Op op, Call &c, bool mutation, char *data, size_t cap) {
  // A cached base (cwd, dirfd) goes with its inode number: the server answers FALLBACK for
  // anything that goes wrong before it has checked that the base is still there.
  Result r = channel_call(t.m, op, c.req, c.s, mutation, &c.rep, data, cap, &c.facts);
  // Refused with a cached cwd: it may be stale (a chdir the shim did not see). Learn it again.
  if (r.to_kernel() && (c.req.flags & (wire::kCwdBase0 | wire::kCwdBase1))) cwd_base_refused();
  return r;
}

// Whether a relative path has a "." or ".." component, or an empty one (the kernel resolves
// those physically, through symlinks and mounts; a listing knows them by name).
bool dotted(const char *path) {
  for (const char *p = path; *p != '\0';) {
    const char *end = strchrnul(p, '/');
    const size_t n = static_cast<size_t>(end - p);
    if (n == 0 || (p[0] == '.' && (n == 1 || (n == 2 && p[1] == '.')))) return true;
    p = *end == '/' ? end + 1 : end;
  }
  return false;
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

// Single-path operation on (dirfd, path); listed: a stat a listing may answer.
Result one_path(int dirfd, const char *path, Op op, Call &c, bool mutation, bool listed = false) {
  CallGuard g;
  Scratch *w = g.scratch();
  if (w == nullptr) return kToKernel;
  Target &t = w->target[0];
  if (!resolve_target(dirfd, path, &t)) return kToKernel;
  if (listed && answered_by_listing(dirfd, path, t, c)) return 0;
  set_path(c, 0, t);
  return send(t, op, c, mutation, w->data, sizeof(w->data));
}

}  // namespace

void note_route(bool bypassed) {
  t_last_route = bypassed ? 1 : 2;
  (bypassed ? g_bypassed : g_kernel).fetch_add(1, std::memory_order_relaxed);
}
int last_route() {
  return t_last_route;
}
void client_stats(unsigned long long *b, unsigned long long *k) {
  *b = g_bypassed.load();
  *k = g_kernel.load();
}

Result b_fstatat(int dirfd, const char *path, struct stat *st, int flags) {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT)) return kToKernel;  // AT_EMPTY_PATH...
  Call c;
  c.req.flags = (flags & AT_SYMLINK_NOFOLLOW) ? wire::kNoFollow : 0;
  Result rc = one_path(dirfd, path, Op::kStat, c, false, /*listed=*/true);
  if (rc.ok()) fill_stat(c.rep.attr, c.facts, st);
  return rc;
}

namespace {

// The file an fd refers to, as a target: its path relative to the mount, verified by inode.
bool known_target(const KnownFile &f, Target *t) {
  if (f.abs_path == nullptr || f.abs_path[0] != '/' || !classify_absolute(f.abs_path, &t->m) ||
      t->m.mnt_id != f.mnt_id)
    return false;
  const char *rel = f.abs_path + t->m.prefix_len;
  while (*rel == '/') rel++;
  t->rel = rel;
  t->rel_len = strlen(rel);
  // The mount root cannot be verified by path (verify_len 0 means "no check"): kernel.
  if (t->rel_len == 0 || t->rel_len >= wire::kPathMax) return false;
  t->verify_len = static_cast<uint32_t>(t->rel_len);  // the final component itself
  t->verify_ino = f.ino;
  return true;
}

// A single-file operation on the file an fd refers to (wire::kByFd).
// data == nullptr: the reply's data goes to the scratch.
Result by_fd(const KnownFile &f, Op op, Call &c, bool mutation, char *data = nullptr,
             size_t cap = 0) {
  CallGuard g;
  Scratch *w = g.scratch();
  if (w == nullptr) return kToKernel;
  Target &t = w->target[0];
  if (!known_target(f, &t)) return kToKernel;
  c.req.flags |= wire::kByFd | wire::kNoFollow;  // the fd's own file, even a symlink
  set_path(c, 0, t);
  if (data == nullptr) data = w->data, cap = sizeof(w->data);
  return send(t, op, c, mutation, data, cap);
}

}  // namespace

Result b_fstat_known(const KnownFile &f, struct stat *st) {
  if (channel_kernel_caches_attrs(f.mnt_id)) return kToKernel;
  Call c;
  Result rc = by_fd(f, Op::kStat, c, false);
  if (rc.ok()) fill_stat(c.rep.attr, c.facts, st);
  return rc;
}

Result b_statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *stx) {
  constexpr unsigned kServed = STATX_BASIC_STATS | STATX_MNT_ID | STATX_BTIME;
  if (mask & ~kServed) return kToKernel;
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)) return kToKernel;
  Call c;
  c.req.flags = (flags & AT_SYMLINK_NOFOLLOW) ? wire::kNoFollow : 0;
  const bool force_sync = (flags & AT_STATX_SYNC_TYPE) == AT_STATX_FORCE_SYNC;
  if (force_sync) c.req.flags |= wire::kForceSync;
  Result rc = one_path(dirfd, path, Op::kStat, c, false, /*listed=*/!force_sync);
  if (!rc.ok()) return rc;
  const wire::Attr &a = c.rep.attr;
  const KernelFacts &f = c.facts;
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
  return 0;
}

Result b_faccessat(int dirfd, const char *path, int mode, int flags) {
  if (mode & ~(R_OK | W_OK | X_OK)) return kToKernel;
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW)) return kToKernel;
  Call c;
  c.req.mode = static_cast<uint32_t>(mode);
  c.req.flags = ((flags & AT_EACCESS) ? wire::kEaccess : 0) |
                ((flags & AT_SYMLINK_NOFOLLOW) ? wire::kNoFollow : 0);
  return one_path(dirfd, path, Op::kAccess, c, false);
}

Result b_unlinkat(int dirfd, const char *path, int flags) {
  if (flags & ~AT_REMOVEDIR) return kToKernel;
  Call c;
  return one_path(dirfd, path, (flags & AT_REMOVEDIR) ? Op::kRmdir : Op::kUnlink, c, true);
}

Result b_mkdirat(int dirfd, const char *path, mode_t mode) {
  Call c;
  c.req.mode = mode;
  return one_path(dirfd, path, Op::kMkdir, c, true);
}

Result b_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
                   unsigned flags) {
  CallGuard g;
  Scratch *w = g.scratch();
  if (w == nullptr) return kToKernel;
  Target &from = w->target[0], &to = w->target[1];
  if (!resolve_target(olddirfd, oldpath, &from) || !resolve_target(newdirfd, newpath, &to))
    return kToKernel;
  if (from.m.mnt_id != to.m.mnt_id) return kToKernel;  // the kernel says EXDEV
  Call c;
  c.req.rename_flags = flags;
  set_path(c, 0, from);
  set_path(c, 1, to);
  return send(from, Op::kRename, c, true, w->data, sizeof(w->data));
}

namespace {

// Request builders shared by the path and the fd forms of each call.
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

}  // namespace

Result b_fchmodat(int dirfd, const char *path, mode_t mode, int flags) {
  if (flags != 0) return kToKernel;  // AT_SYMLINK_NOFOLLOW: EOPNOTSUPP games, kernel's
  Call c;
  chmod_req(c, mode);
  return one_path(dirfd, path, Op::kSetattr, c, true);
}

Result b_fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags) {
  if (flags & ~AT_SYMLINK_NOFOLLOW) return kToKernel;
  Call c;
  chown_req(c, uid, gid);
  c.req.flags = (flags & AT_SYMLINK_NOFOLLOW) ? wire::kNoFollow : 0;
  return one_path(dirfd, path, Op::kSetattr, c, true);
}

Result b_truncate(const char *path, off_t length) {
  if (length < 0) return -EINVAL;
  Call c;
  size_req(c, length);
  return one_path(AT_FDCWD, path, Op::kSetattr, c, true);
}

Result b_utimensat(int dirfd, const char *path, const struct timespec times[2], int flags) {
  if (path == nullptr || (flags & ~AT_SYMLINK_NOFOLLOW)) return kToKernel;
  Call c;
  c.req.flags = (flags & AT_SYMLINK_NOFOLLOW) ? wire::kNoFollow : 0;
  if (!times_req(c, times)) return kToKernel;
  return one_path(dirfd, path, Op::kSetattr, c, true);
}

namespace {

// A call on the file fd refers to, by the kernel's node of it (wire::kByNode): only in a
// process that connected to a server before; *elsewhere when the fd is on no attached mount;
// the fd must allow `use` (the kernel's refusal otherwise). A read-only call's answer counts
// only if the fd still names that node afterwards (a close and reuse by another thread).
Result by_node(int fd, FdUse use, Op op, Call &c, bool mutation, bool *elsewhere,
               char *data = nullptr, size_t cap = 0) {
  if (!channel_ever_connected()) return kToKernel;
  uint64_t node = 0, mnt_id = 0;
  MountMatch m;
  if (!fd_fuse_node(fd, &node, &mnt_id) || !classify_mount_id(mnt_id, &m)) {
    if (elsewhere != nullptr) *elsewhere = true;
    return kToKernel;
  }
  if ((op == Op::kStat && channel_kernel_caches_attrs(mnt_id)) || !fd_allows(fd, use))
    return kToKernel;
  CallGuard g;
  Scratch *w = g.scratch();
  if (w == nullptr) return kToKernel;
  c.req.flags |= wire::kByNode | wire::kNoFollow;
  c.req.node = node;
  c.req.fd = fd;
  c.mnt_id = mnt_id;
  if (data == nullptr) data = w->data, cap = sizeof(w->data);
  Result rc = channel_call(m, op, c.req, c.s, mutation, &c.rep, data, cap, &c.facts);
  if (!rc.ok() || mutation) return rc;
  uint64_t node_after = 0, mnt_after = 0;
  if (!fd_fuse_node(fd, &node_after, &mnt_after) || node_after != node || mnt_after != mnt_id)
    return kToKernel;
  return rc;
}

}  // namespace

Result b_fstat_fd(int fd, struct stat *st, bool *elsewhere) {
  Call c;
  Result rc = by_node(fd, FdUse::kAny, Op::kStat, c, false, elsewhere);
  if (rc.ok()) fill_stat(c.rep.attr, c.facts, st);
  return rc;
}

Result b_fchmod_fd(int fd, mode_t mode, bool *elsewhere) {
  Call c;
  chmod_req(c, mode);
  return by_node(fd, FdUse::kNotPath, Op::kSetattr, c, true, elsewhere);
}

Result b_fchown_fd(int fd, uid_t uid, gid_t gid, bool *elsewhere) {
  Call c;
  chown_req(c, uid, gid);
  return by_node(fd, FdUse::kNotPath, Op::kSetattr, c, true, elsewhere);
}

Result b_ftruncate_fd(int fd, off_t length, bool *elsewhere) {
  if (length < 0) return kToKernel;  // EINVAL, the kernel's
  Call c;
  size_req(c, length);
  return by_node(fd, FdUse::kWritable, Op::kSetattr, c, true, elsewhere);
}

Result b_futimens_fd(int fd, const struct timespec times[2], bool *elsewhere) {
  Call c;
  if (!times_req(c, times)) return kToKernel;
  return by_node(fd, FdUse::kNotPath, Op::kSetattr, c, true, elsewhere);
}

Result b_fgetxattr_fd(int fd, const char *name, void *value, size_t size, bool *elsewhere) {
  Call c;
  if (!xattr_req(c, name, size)) return kToKernel;
  return by_node(fd, FdUse::kNotPath, Op::kGetxattr, c, false, elsewhere,
                 static_cast<char *>(value), size);
}

Result b_fstatfs_fd(int fd, struct statfs *st, bool *elsewhere) {
  Call c;
  Result rc = by_node(fd, FdUse::kAny, Op::kStatfs, c, false, elsewhere);
  if (rc.ok()) fill_statfs(c, st);
  return rc;
}

Result b_fchmod_known(const KnownFile &f, mode_t mode) {
  Call c;
  chmod_req(c, mode);
  return by_fd(f, Op::kSetattr, c, true);
}

Result b_fchown_known(const KnownFile &f, uid_t uid, gid_t gid) {
  Call c;
  chown_req(c, uid, gid);
  return by_fd(f, Op::kSetattr, c, true);
}

Result b_ftruncate_known(const KnownFile &f, off_t length) {
  if (length < 0) return kToKernel;  // EINVAL, the kernel's
  Call c;
  size_req(c, length);
  return by_fd(f, Op::kSetattr, c, true);
}

Result b_futimens_known(const KnownFile &f, const struct timespec times[2]) {
  Call c;
  if (!times_req(c, times)) return kToKernel;
  return by_fd(f, Op::kSetattr, c, true);
}

Result b_fgetxattr_known(const KnownFile &f, const char *name, void *value, size_t size) {
  Call c;
  if (!xattr_req(c, name, size)) return kToKernel;
  return by_fd(f, Op::kGetxattr, c, false, static_cast<char *>(value), size);
}

Result b_fstatfs_known(const KnownFile &f, struct statfs *st) {
  Call c;
  Result rc = by_fd(f, Op::kStatfs, c, false);
  if (rc.ok()) fill_statfs(c, st);
  return rc;
}

namespace {

// A reply's entries must be whole and, unless it is the last, not none (or the listing would
// never end): anything else is not the server's listing.
bool entries_ok(const Listing &l) {
  if (!l.end && l.stream == 0) return false;
  if (l.len == 0) return l.end;
  size_t at = 0;
  while (at < l.len) {
    if (l.len - at < sizeof(wire::DirEntry)) return false;
    auto *e = reinterpret_cast<const wire::DirEntry *>(l.data + at);
    size_t sz = wire::entry_size(*e);
    if (e->namelen == 0 || e->namelen > wire::kNameMax || sz > l.len - at ||
        e->name[e->namelen] != '\0')
      return false;
    at += sz;
  }
  return true;
}

// A reply of kReaddir into *l (its entries already in l->data): a continuation's reply does
// not repeat the directory's node and inode, which the first one gave.
Result listed(Result rc, const Call &c, uint64_t mnt_id, bool continued, Listing *l) {
  if (!rc.ok()) return rc;
  l->len = c.rep.data_len;
  l->end = c.rep.hints & wire::kHintListEnd;
  l->stream = l->end ? 0 : c.rep.stream;
  l->mnt_id = mnt_id;
  if (!continued) {
    l->node = c.rep.node;
    l->ino = c.rep.attr.ino;
  }
  return entries_ok(*l) ? rc : Result(kToKernel);
}

}  // namespace

Result b_list_path(const char *path, uint64_t off, uint64_t verify_ino, Listing *l, char *abs) {
  CallGuard g;
  Scratch *w = g.scratch();
  if (w == nullptr) return kToKernel;
  Target &t = w->target[0];
  if (!resolve_target(AT_FDCWD, path, &t)) return kToKernel;
  if (verify_ino != 0) {
    // The directory a listing began on: its path, checked to name it still (wire::kByFd's
    // check of the final component, without the by-fd restrictions).
    if (t.cached_base || t.rel_len == 0) return kToKernel;
    t.verify_len = static_cast<uint32_t>(t.rel_len);
    t.verify_ino = verify_ino;
  }
  if (abs != nullptr) {
    int n = snprintf(abs, wire::kPathMax, "%s/%.*s", t.m.mount_path, static_cast<int>(t.rel_len),
                     t.rel);
    if (n < 0 || n >= static_cast<int>(wire::kPathMax)) return kToKernel;
  }
  Call c;
  c.req.size = off;
  set_path(c, 0, t);
  Result rc = send(t, Op::kReaddir, c, false, l->data, sizeof(l->data));
  return listed(rc, c, t.m.mnt_id, false, l);
}

Result b_list_fd(int fd, uint64_t off, Listing *l, bool *elsewhere) {
  Call c;
  c.req.size = off;
  Result rc =
      by_node(fd, FdUse::kNotPath, Op::kReaddir, c, false, elsewhere, l->data, sizeof(l->data));
  return listed(rc, c, c.mnt_id, false, l);
}

Result b_list_more(Listing *l) {
  MountMatch m;
  if (l->stream == 0 || !classify_mount_id(l->mnt_id, &m)) return kToKernel;
  Call c;
  c.req.stream = l->stream;
  Result rc =
      channel_call(m, Op::kReaddir, c.req, c.s, false, &c.rep, l->data, sizeof(l->data), nullptr);
  return listed(rc, c, l->mnt_id, true, l);
}

void b_list_release(uint64_t mnt_id, uint64_t stream) {
  MountMatch m;
  if (stream == 0 || !classify_mount_id(mnt_id, &m)) return;
  Call c;
  c.req.stream = stream;
  c.req.flags = wire::kRelease;
  char none[1];
  Result ignored = channel_call(m, Op::kReaddir, c.req, c.s, false, &c.rep, none, 0, nullptr);
  (void)ignored;  // a server gone, or another process's number: nothing is kept for us
}

Result b_readlinkat(int dirfd, const char *path, char *buf, size_t size) {
  if (size == 0) return kToKernel;  // EINVAL, the kernel's
  Call c;
  c.req.size = size;
  CallGuard g;
  Scratch *w = g.scratch();
  if (w == nullptr) return kToKernel;
  Target &t = w->target[0];
  if (!resolve_target(dirfd, path, &t)) return kToKernel;
  set_path(c, 0, t);
  return send(t, Op::kReadlink, c, false, buf, size);
}

Result b_symlinkat(const char *target, int dirfd, const char *linkpath) {
  if (target == nullptr || target[0] == '\0') return kToKernel;
  size_t tlen = strnlen(target, wire::kPathMax);
  if (tlen >= wire::kPathMax) return kToKernel;
  Call c;
  c.s.name = target;
  c.s.name_len = tlen;
  return one_path(dirfd, linkpath, Op::kSymlink, c, true);
}

Result b_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags) {
  if (flags & ~AT_SYMLINK_FOLLOW) return kToKernel;
  CallGuard g;
  Scratch *w = g.scratch();
  if (w == nullptr) return kToKernel;
  Target &from = w->target[0], &to = w->target[1];
  if (!resolve_target(olddirfd, oldpath, &from) || !resolve_target(newdirfd, newpath, &to))
    return kToKernel;
  if (from.m.mnt_id != to.m.mnt_id) return kToKernel;
  Call c;
  c.req.flags = (flags & AT_SYMLINK_FOLLOW) ? wire::kFollow2 : 0;
  set_path(c, 0, from);
  set_path(c, 1, to);
  return send(from, Op::kLink, c, true, w->data, sizeof(w->data));
}

Result b_statfs(const char *path, struct statfs *st) {
  Call c;
  Result rc = one_path(AT_FDCWD, path, Op::kStatfs, c, false);
  if (rc.ok()) fill_statfs(c, st);
  return rc;
}

Result b_getxattr(const char *path, const char *name, void *value, size_t size, bool nofollow) {
  Call c;
  if (!xattr_req(c, name, size)) return kToKernel;
  c.req.flags = nofollow ? wire::kNoFollow : 0;
  CallGuard g;
  Scratch *w = g.scratch();
  if (w == nullptr) return kToKernel;
  Target &t = w->target[0];
  if (!resolve_target(AT_FDCWD, path, &t)) return kToKernel;
  // What the latest listing said (channel_known_absent), under the rule of its stats.
  const uint32_t bit = c.s.xattr_bit;
  AbsentXattrs::Through through;
  if (bit != 0 && listing_may_answer(path, t, &through) &&
      channel_known_absent(t.m, t.rel, t.rel_len, bit, !nofollow, through) &&
      listed_base_current(AT_FDCWD, t))
    return -ENODATA;
  set_path(c, 0, t);
  return send(t, Op::kGetxattr, c, false, static_cast<char *>(value), size);
}

Result b_listxattr(const char *path, char *list, size_t size, bool nofollow) {
  Call c;
  c.req.flags = nofollow ? wire::kNoFollow : 0;
  c.req.size = size;
  CallGuard g;
  Scratch *w = g.scratch();
  if (w == nullptr) return kToKernel;
  Target &t = w->target[0];
  if (!resolve_target(AT_FDCWD, path, &t)) return kToKernel;
  set_path(c, 0, t);
  return send(t, Op::kListxattr, c, false, list, size);
}

}  // namespace finesse::client
