#include "bypass_ops.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <atomic>
#include <cerrno>

#include "call.h"
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

// data: where the reply's data goes (the scratch's when the caller has no buffer).
Result send(const Target &t, Op op, Call &c, bool mutation, char *data, size_t cap) {
  // A cached base (cwd, dirfd) goes with its inode number: the server answers FALLBACK for
  // anything that goes wrong before it has checked that the base is still there.
  Result r = channel_call(t.m, op, c.req, c.s, mutation, &c.rep, data, cap, &c.facts);
  // Refused with a cached cwd: it may be stale (a chdir the shim did not see). Learn it again.
  if (r.to_kernel() && (c.req.flags & (wire::kCwdBase0 | wire::kCwdBase1))) cwd_base_refused();
  return r;
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
  Call c;
  if (!stat_req(c, flags)) return kToKernel;
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
  Call c;
  bool listed = false;
  if (!statx_req(c, flags, mask, &listed)) return kToKernel;
  Result rc = one_path(dirfd, path, Op::kStat, c, false, listed);
  if (rc.ok()) fill_statx(c.rep.attr, c.facts, stx);
  return rc;
}

Result b_faccessat(int dirfd, const char *path, int mode, int flags) {
  Call c;
  if (!access_req(c, mode, flags)) return kToKernel;
  return one_path(dirfd, path, Op::kAccess, c, false);
}

Result b_unlinkat(int dirfd, const char *path, int flags) {
  Call c;
  Op op;
  if (!unlink_req(flags, &op)) return kToKernel;
  return one_path(dirfd, path, op, c, true);
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

Result b_fchmodat(int dirfd, const char *path, mode_t mode, int flags) {
  Call c;
  if (!fchmodat_req(c, mode, flags)) return kToKernel;
  return one_path(dirfd, path, Op::kSetattr, c, true);
}

Result b_fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags) {
  Call c;
  if (!fchownat_req(c, uid, gid, flags)) return kToKernel;
  return one_path(dirfd, path, Op::kSetattr, c, true);
}

Result b_truncate(const char *path, off_t length) {
  if (length < 0) return -EINVAL;
  Call c;
  size_req(c, length);
  return one_path(AT_FDCWD, path, Op::kSetattr, c, true);
}

Result b_utimensat(int dirfd, const char *path, const struct timespec times[2], int flags) {
  Call c;
  if (!utimensat_req(c, path, times, flags)) return kToKernel;
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
  Call c;
  if (!readlink_req(c, size)) return kToKernel;
  CallGuard g;
  Scratch *w = g.scratch();
  if (w == nullptr) return kToKernel;
  Target &t = w->target[0];
  if (!resolve_target(dirfd, path, &t)) return kToKernel;
  set_path(c, 0, t);
  return send(t, Op::kReadlink, c, false, buf, size);
}

Result b_symlinkat(const char *target, int dirfd, const char *linkpath) {
  Call c;
  if (!symlink_req(c, target)) return kToKernel;
  return one_path(dirfd, linkpath, Op::kSymlink, c, true);
}

Result b_linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags) {
  Call c;
  if (!link_req(c, flags)) return kToKernel;
  CallGuard g;
  Scratch *w = g.scratch();
  if (w == nullptr) return kToKernel;
  Target &from = w->target[0], &to = w->target[1];
  if (!resolve_target(olddirfd, oldpath, &from) || !resolve_target(newdirfd, newpath, &to))
    return kToKernel;
  if (from.m.mnt_id != to.m.mnt_id) return kToKernel;
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
