#include "handlers.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "clock.h"
#include "cred_watch.h"
#include "dir_listing.h"
#include "fs_state.h"
#include "fuse_node.h"
#include "kernel_view.h"
#include "path_walk.h"
#include "result.h"
#include "wire_attr.h"
#include "xattr_absence.h"

namespace finesse::server {

namespace {

WalkSpec spec_of(const Decoded &d, int i, bool follow) {
  WalkSpec s;
  s.path = d.path[i];
  s.verify_len = d.req.path[i].verify_len;
  s.verify_ino = d.req.path[i].verify_ino;
  // A by-fd request names the fd's own file: never follow it anywhere else.
  s.follow_final = follow && !(d.req.flags & wire::kByFd);
  return s;
}

bool dp(const ServeCtx &ctx) { return ctx.mount->default_permissions; }

// The final component names something that can be created/removed by name.
bool has_name(const WalkResult &w) { return !w.dot && !w.name.empty() && w.parent != 0; }

// may_delete(): victim exists; is_dir says what the operation expects.
int may_delete(ServeCtx &ctx, const WalkResult &w, bool is_dir) {
  if (dp(ctx)) {
    int rc = check_permission(*ctx.creds, w.parent_attr, 2 | 1);
    if (rc != 0) return rc;
  }
  if (dp(ctx)) {
    // Without default_permissions the kernel leaves even the sticky rule to the file system.
    int rc = check_sticky(*ctx.creds, w.parent_attr, w.attr);
    if (rc != 0) return rc;
  }
  if (is_dir && !S_ISDIR(w.attr.st_mode)) return -ENOTDIR;
  if (!is_dir && S_ISDIR(w.attr.st_mode)) return -EISDIR;
  return 0;
}

// may_create(): the name does not exist (checked by the caller).
int may_create(ServeCtx &ctx, const WalkResult &w) {
  if (!dp(ctx)) return 0;
  return check_permission(*ctx.creds, w.parent_attr, 2 | 1);
}

bool mutations_allowed(const ServeCtx &ctx) {
  return !ctx.mount->read_only && !ctx.mount->posix_acl;
}

// After the file system created an entry: cache it (the reply holds a lookup) and tell the
// kernel that its idea of the directory is stale.
void created(ServeCtx &ctx, fuse_ino_t parent, const std::string &name,
             const fuse_entry_param &e) {
  ctx.cache->drop_entry(parent, name, &ctx.forgets);  // a negative entry, if cached
  ctx.cache->insert(parent, name, e, ctx.cache->generation(), now_ns(), &ctx.forgets, &ctx.pins);
  ctx.cache->invalidate_attr(parent);
  ctx.inval.entry(parent, name);
  ctx.inval.inode(parent);
}

void removed(ServeCtx &ctx, fuse_ino_t parent, const std::string &name, fuse_ino_t victim) {
  ctx.cache->drop_entry(parent, name, &ctx.forgets);
  ctx.cache->invalidate_attr(parent);
  ctx.cache->invalidate_attr(victim);
  ctx.inval.gone(parent, name, victim);
  ctx.inval.inode(parent);
  ctx.inval.inode(victim);
}

// The kernel's node id of the file the client's fd refers to, read from the kernel's own
// file handle of /proc/<pid>/fd/<fd> (no request to any FUSE daemon), on our mount. False if
// it cannot be had (another user's process without the right to look at its fds).
bool client_fd_node(pid_t pid, int fd, uint64_t mnt_id, uint64_t *node) {
  if (pid <= 0 || fd < 0) return false;
  char link[64];
  snprintf(link, sizeof(link), "/proc/%d/fd/%d", static_cast<int>(pid), fd);
  uint64_t mnt = 0;
  return fuse_node_of(AT_FDCWD, link, AT_SYMLINK_FOLLOW, node, &mnt) && mnt == mnt_id;
}

// The file a by-node request is for (wire::kByNode), as a walk would give it: the client
// says which node its fd refers to; the server believes it only if the kernel's handle of
// that very fd says so and the kernel holds the node (checked after pinning it: a forget
// handled first is seen, one handled after waits for the request's end).
Result node_of_client_fd(ServeCtx &ctx, const Decoded &d, WalkResult *w) {
  const fuse_ino_t node = d.req.node;
  uint64_t seen = 0;
  if (node == 0 || ctx.mount->mnt_id == 0 ||
      !client_fd_node(ctx.creds->pid, d.req.fd, ctx.mount->mnt_id, &seen) || seen != node)
    return kToKernel;
  ctx.cache->pin_kernel_node(node, &ctx.pins);
  if (!ctx.kernel->known(node)) return kToKernel;
  struct stat st;
  Result rc =
      (d.req.flags & wire::kForceSync) ? synced_attr(ctx, node, &st) : fresh_attr(ctx, node, &st);
  if (!rc.ok()) return kToKernel;
  w->exists = true;
  w->ino = node;
  w->attr = st;
  w->from_kernel_entry = true;  // the kernel's node, its attributes just read
  return 0;
}

// The request's file: by node, or by walking its path (spec).
Result find_file(ServeCtx &ctx, const Decoded &d, const WalkSpec &spec, WalkResult *w) {
  if (d.req.flags & wire::kByNode) return node_of_client_fd(ctx, d, w);
  return walk_path(ctx, spec, w);
}

Result do_stat(ServeCtx &ctx, const Decoded &d, ReplyBuf &out) {
  WalkResult w;
  WalkSpec spec = spec_of(d, 0, !(d.req.flags & wire::kNoFollow));
  spec.attr_only = !(d.req.flags & wire::kForceSync);
  Result rc = find_file(ctx, d, spec, &w);
  if (!rc.ok()) return rc;
  if (!w.exists) return -ENOENT;
  if (ctx.mount->kernel_owns_attrs(w.attr.st_mode)) return kToKernel;
  if (ctx.kernel->caches_attrs()) out.rep->hints |= wire::kHintKernelCachesAttrs;
  struct stat st = w.attr;
  if (w.from_kernel_entry) return to_wire(st, &out.rep->attr), 0;
  // statx(AT_STATX_FORCE_SYNC): the kernel asks the file system (fuse_update_get_attr).
  rc =
      (d.req.flags & wire::kForceSync) ? synced_attr(ctx, w.ino, &st) : fresh_attr(ctx, w.ino, &st);
  if (!rc.ok()) return rc;
  to_wire(st, &out.rep->attr);
  return 0;
}

Result do_access(ServeCtx &ctx, const Decoded &d, ReplyBuf &) {
  if (!(d.req.flags & wire::kEaccess) && !access_creds_known(*ctx.creds)) return kToKernel;
  Creds eff = (d.req.flags & wire::kEaccess) ? *ctx.creds : access_creds(*ctx.creds);
  ServeCtx actx{&eff, ctx.mount, ctx.fs, ctx.kernel, ctx.cache, ctx.umask};
  WalkResult w;
  WalkSpec spec = spec_of(d, 0, !(d.req.flags & wire::kNoFollow));
  spec.attr_only = dp(ctx);  // without default_permissions the file system's access op decides
  Result rc = walk_path(actx, spec, &w);
  ctx.forgets.insert(ctx.forgets.end(), actx.forgets.begin(), actx.forgets.end());
  ctx.pins.add(actx.pins);
  if (!rc.ok()) return rc;
  if (!w.exists) return -ENOENT;
  int mask = static_cast<int>(d.req.mode & 7);
  // do_faccessat(): executing a regular file of a noexec mount is refused before anything.
  if ((mask & 1) && ctx.mount->noexec && S_ISREG(w.attr.st_mode)) return -EACCES;
  if ((mask & 2) && ctx.mount->read_only) return kToKernel;
  if (dp(ctx)) {
    if (mask == 0) return 0;
    struct stat st = w.attr;
    rc = w.from_kernel_entry ? 0 : fresh_attr(actx, w.ino, &st);
    if (!rc.ok()) return rc;
    return check_permission(eff, st, mask);
  }
  rc = fs_access(actx.call(), w.ino, mask);
  return rc.is_error(ENOSYS) ? 0 : rc;  // the kernel treats a missing access op as "allowed"
}

Result do_unlink_or_rmdir(ServeCtx &ctx, const Decoded &d, bool is_dir) {
  if (!mutations_allowed(ctx)) return kToKernel;
  WalkResult w;
  WalkSpec spec = spec_of(d, 0, false);
  // The victim is removed by name: its type, owner and number (for the kernel's view) may
  // come from the entry the kernel holds for it, without a lookup of the server's own.
  spec.attr_only = true;
  Result rc = walk_path(ctx, spec, &w);
  if (!rc.ok()) return rc;
  if (!has_name(w)) return kToKernel;
  if (!w.exists) return -ENOENT;
  rc = may_delete(ctx, w, is_dir);
  if (!rc.ok()) return rc;
  rc = is_dir ? fs_rmdir(ctx.call(), w.parent, w.name.c_str())
              : fs_unlink(ctx.call(), w.parent, w.name.c_str());
  if (rc.is_error(ENOSYS)) return -EPERM;  // as the kernel answers a file system without the op
  if (!rc.ok()) return rc;
  removed(ctx, w.parent, w.name, w.ino);
  return 0;
}

Result do_mkdir(ServeCtx &ctx, const Decoded &d, ReplyBuf &out) {
  if (!mutations_allowed(ctx)) return kToKernel;
  WalkResult w;
  Result rc = walk_path(ctx, spec_of(d, 0, false), &w);
  if (!rc.ok()) return rc;
  if (!has_name(w)) return kToKernel;
  if (w.exists) return -EEXIST;
  rc = may_create(ctx, w);
  if (!rc.ok()) return rc;
  mode_t mode = (d.req.mode & 07777 & ~S_ISUID & ~S_ISGID) & ~ctx.umask;
  fuse_entry_param e{};
  rc = fs_mkdir(ctx.call(), w.parent, w.name.c_str(), mode, &e);
  if (rc.is_error(ENOSYS)) return -EPERM;
  if (!rc.ok()) return rc;
  created(ctx, w.parent, w.name, e);
  to_wire(e.attr, &out.rep->attr);
  return 0;
}

bool in_chain(const std::vector<fuse_ino_t> &chain, fuse_ino_t ino) {
  return std::find(chain.begin(), chain.end(), ino) != chain.end();
}

Result do_rename(ServeCtx &ctx, const Decoded &d, ReplyBuf &) {
  if (!mutations_allowed(ctx)) return kToKernel;
  unsigned flags = d.req.rename_flags;
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) return kToKernel;
  if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) return kToKernel;
  WalkResult from, to;
  // Both names may come from the kernel's entries (their nodes pinned against its forget).
  WalkSpec from_spec = spec_of(d, 0, false), to_spec = spec_of(d, 1, false);
  from_spec.attr_only = to_spec.attr_only = true;
  Result rc = walk_path(ctx, from_spec, &from);
  if (!rc.ok()) return rc;
  rc = walk_path(ctx, to_spec, &to);
  if (!rc.ok()) return rc;
  if (!has_name(from) || !has_name(to)) return kToKernel;
  if (!from.exists) return -ENOENT;
  bool exchange = flags & RENAME_EXCHANGE;
  if (exchange && !to.exists) return -ENOENT;
  if ((flags & RENAME_NOREPLACE) && to.exists) return -EEXIST;
  // A directory moving to another directory: the kernel checks under s_vfs_rename_mutex that
  // it does not go below itself, a lock the bypass cannot take, so a kernel-path rename
  // racing with ours could make a cycle cut off from the root. The kernel does those.
  if (from.parent != to.parent &&
      (S_ISDIR(from.attr.st_mode) || (exchange && S_ISDIR(to.attr.st_mode))))
    return kToKernel;
  // lock_rename()'s traps: the source may not be an ancestor of the target's directory, nor
  // the target an ancestor of the source's.
  if (in_chain(to.chain, from.ino)) return -EINVAL;
  if (to.exists && in_chain(from.chain, to.ino)) return exchange ? -EINVAL : -ENOTEMPTY;
  if (to.exists && to.ino == from.ino) return 0;  // same inode: nothing to do
  bool is_dir = S_ISDIR(from.attr.st_mode);
  rc = may_delete(ctx, from, is_dir);
  if (!rc.ok()) return rc;
  bool new_is_dir = to.exists && S_ISDIR(to.attr.st_mode);
  if (!to.exists)
    rc = may_create(ctx, to);
  else
    rc = may_delete(ctx, to, exchange ? new_is_dir : is_dir);
  if (!rc.ok()) return rc;
  if (from.parent != to.parent && dp(ctx)) {
    if (is_dir && !(rc = check_permission(*ctx.creds, from.attr, 2)).ok()) return rc;
    if (exchange && new_is_dir && !(rc = check_permission(*ctx.creds, to.attr, 2)).ok()) return rc;
  }
  rc = fs_rename(ctx.call(), from.parent, from.name.c_str(), to.parent, to.name.c_str(), flags);
  if (rc.is_error(ENOSYS)) return flags ? -EINVAL : -EPERM;
  if (!rc.ok()) return rc;
  removed(ctx, from.parent, from.name, from.ino);
  if (to.exists) {
    removed(ctx, to.parent, to.name, to.ino);
  } else {
    ctx.cache->drop_entry(to.parent, to.name, &ctx.forgets);
    ctx.cache->invalidate_attr(to.parent);
    ctx.inval.entry(to.parent, to.name);
    ctx.inval.inode(to.parent);
  }
  return 0;
}

// inode_newsize_ok(): growing a file to more than the caller's RLIMIT_FSIZE. Unknown (prlimit
// needs the client's ids or CAP_SYS_RESOURCE; its process gone): not below.
bool below_fsize_limit(const ServeCtx &ctx, uint64_t size) {
  struct rlimit rl;
  if (prlimit(ctx.creds->pid, RLIMIT_FSIZE, nullptr, &rl) != 0) return false;
  if (ctx.pidfd >= 0 && process_gone(ctx.pidfd)) return false;  // the pid's, not the client's
  return rl.rlim_cur == RLIM_INFINITY || size <= rl.rlim_cur;
}

bool kills_privs(const struct stat &st) {
  return !S_ISDIR(st.st_mode) &&
         ((st.st_mode & S_ISUID) || (st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP));
}

Result do_setattr(ServeCtx &ctx, const Decoded &d, ReplyBuf &out) {
  if (!mutations_allowed(ctx)) return kToKernel;
  const wire::Request &r = d.req;
  bool nofollow = r.flags & wire::kNoFollow;
  bool by_fd = r.flags & (wire::kByFd | wire::kByNode);
  if ((r.valid & wire::kSetMode) && nofollow && !by_fd) return kToKernel;
  WalkResult w;
  WalkSpec spec = spec_of(d, 0, !nofollow);
  // A name the kernel holds is changed through the kernel's node (pinned against its forget),
  // with the attributes the kernel would check: no lookup of the server's own.
  spec.attr_only = true;
  Result rc = find_file(ctx, d, spec, &w);
  if (!rc.ok()) return rc;
  if (!w.exists) return -ENOENT;
  if (by_fd && S_ISLNK(w.attr.st_mode)) return kToKernel;  // an O_PATH fd: EBADF, the kernel's
  struct stat cur = w.attr;
  if (!w.from_kernel_entry && !(rc = fresh_attr(ctx, w.ino, &cur)).ok()) return rc;
  const Creds &c = *ctx.creds;
  struct stat in {};
  int to_set = 0;
  if (r.valid & wire::kSetMode) {
    // The kernel decides some things (killing setuid/setgid on truncate, write, chown) from
    // its cached i_mode, which an invalidation does not refresh: the setuid/setgid bits are
    // only ever changed through the kernel so that its copy is always right.
    if ((cur.st_mode | r.mode) & (S_ISUID | S_ISGID)) return kToKernel;
    if (dp(ctx) && !owner_or_capable(c, cur)) return -EPERM;
    mode_t mode = (r.mode & 07777) | (cur.st_mode & ~07777);
    if (dp(ctx) && !in_group(c, cur.st_gid) && !c.privileged) mode &= ~S_ISGID;
    in.st_mode = mode;
    to_set |= FUSE_SET_ATTR_MODE;
  } else if (r.valid & wire::kSetChown) {
    if (kills_privs(cur)) return kToKernel;
    bool set_uid = r.uid != static_cast<uint32_t>(-1);
    bool set_gid = r.gid != static_cast<uint32_t>(-1);
    if (dp(ctx)) {
      bool owner = c.uid == cur.st_uid;
      if (set_uid && !((owner && r.uid == cur.st_uid) || c.privileged)) return -EPERM;
      if (set_gid && !((owner && (r.gid == cur.st_gid || in_group(c, r.gid))) || c.privileged))
        return -EPERM;
    }
    if (set_uid) in.st_uid = r.uid, to_set |= FUSE_SET_ATTR_UID;
    if (set_gid) in.st_gid = r.gid, to_set |= FUSE_SET_ATTR_GID;
  } else if (r.valid & wire::kSetSize) {
    if (ctx.mount->writeback_cache) return kToKernel;
    if (static_cast<int64_t>(r.size) < 0) return -EINVAL;
    if (S_ISDIR(cur.st_mode)) return -EISDIR;
    if (!S_ISREG(cur.st_mode)) return -EINVAL;
    if (kills_privs(cur)) return kToKernel;
    if (dp(ctx) && !(rc = check_permission(c, cur, 2)).ok()) return rc;
    // truncate(2) of a file being executed is ETXTBSY, which only the kernel knows: a file
    // nobody may execute is not being executed (an fd open for writing excludes it anyway).
    if (!by_fd && (cur.st_mode & 0111)) return kToKernel;
    if (static_cast<off_t>(r.size) > cur.st_size && !below_fsize_limit(ctx, r.size))
      return kToKernel;  // EFBIG, and SIGXFSZ to the calling thread: the kernel's to send
    in.st_size = static_cast<off_t>(r.size);
    to_set |= FUSE_SET_ATTR_SIZE;
  } else if (r.valid & (wire::kSetAtime | wire::kSetMtime)) {
    if (ctx.mount->writeback_cache) return kToKernel;
    bool touch = (r.valid & (wire::kSetAtime | wire::kSetAtimeNow)) ==
                     (wire::kSetAtime | wire::kSetAtimeNow) &&
                 (r.valid & (wire::kSetMtime | wire::kSetMtimeNow)) ==
                     (wire::kSetMtime | wire::kSetMtimeNow);
    bool explicit_time = ((r.valid & wire::kSetAtime) && !(r.valid & wire::kSetAtimeNow)) ||
                         ((r.valid & wire::kSetMtime) && !(r.valid & wire::kSetMtimeNow));
    if (dp(ctx)) {
      if (explicit_time && !owner_or_capable(c, cur)) return -EPERM;
      if (!explicit_time && !owner_or_capable(c, cur)) {
        if (!touch) return kToKernel;  // one NOW, one OMIT: rare, let the kernel decide
        if (!(rc = check_permission(c, cur, 2)).ok()) return rc;
      }
    }
    if (r.valid & wire::kSetAtime) {
      to_set |= FUSE_SET_ATTR_ATIME;
      if (r.valid & wire::kSetAtimeNow)
        to_set |= FUSE_SET_ATTR_ATIME_NOW;
      else
        in.st_atim = {static_cast<time_t>(r.atime_sec), static_cast<long>(r.atime_nsec)};
    }
    if (r.valid & wire::kSetMtime) {
      to_set |= FUSE_SET_ATTR_MTIME;
      if (r.valid & wire::kSetMtimeNow)
        to_set |= FUSE_SET_ATTR_MTIME_NOW;
      else
        in.st_mtim = {static_cast<time_t>(r.mtime_sec), static_cast<long>(r.mtime_nsec)};
    }
  } else {
    return kToKernel;
  }
  struct stat after;
  double timeout = 0;
  rc = fs_setattr(ctx.call(), w.ino, &in, to_set, &after, &timeout);
  if (rc.is_error(ENOSYS)) return -EPERM;
  if (!rc.ok()) return rc;
  // Like the kernel, take the attributes of the reply as the new truth. Invalidate first: if
  // a kernel-path mutation bumps the generation meanwhile, set_attr keeps nothing, and the
  // attributes fresh_attr cached above (from before the change) must not stay fresh.
  ctx.cache->invalidate_attr(w.ino);
  ctx.cache->set_attr(w.ino, after, timeout, ctx.cache->generation(), now_ns());
  ctx.inval.inode(w.ino);
  to_wire(after, &out.rep->attr);
  return 0;
}

Result do_readlink(ServeCtx &ctx, const Decoded &d, ReplyBuf &out) {
  WalkResult w;
  Result rc = walk_path(ctx, spec_of(d, 0, false), &w);
  if (!rc.ok()) return rc;
  if (!w.exists) return -ENOENT;
  if (!S_ISLNK(w.attr.st_mode)) return -EINVAL;
  char target[wire::kPathMax + 1];
  size_t len = 0;
  rc = fs_readlink(ctx.call(), w.ino, target, sizeof(target), &len);
  if (!rc.ok()) return rc;
  // len is the whole reply, of which target holds what fits. The kernel takes at most
  // PAGE_SIZE - 1 bytes (fuse_readlink_page: a longer reply fails the request with EIO).
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  if (len >= page) return -EIO;
  if (len >= sizeof(target)) return kToKernel;  // pages larger than our buffer
  size_t n = std::min<size_t>({len, d.req.size, out.cap});
  memcpy(out.data, target, n);
  out.rep->data_len = static_cast<uint32_t>(n);
  return static_cast<int32_t>(n);
}

Result do_symlink(ServeCtx &ctx, const Decoded &d, ReplyBuf &) {
  if (!mutations_allowed(ctx)) return kToKernel;
  if (d.name.empty()) return -ENOENT;
  WalkResult w;
  Result rc = walk_path(ctx, spec_of(d, 0, false), &w);
  if (!rc.ok()) return rc;
  if (!has_name(w)) return kToKernel;
  if (w.exists) return -EEXIST;
  if (!(rc = may_create(ctx, w)).ok()) return rc;
  std::string target(d.name);
  fuse_entry_param e{};
  rc = fs_symlink(ctx.call(), target.c_str(), w.parent, w.name.c_str(), &e);
  if (rc.is_error(ENOSYS)) return -EPERM;
  if (!rc.ok()) return rc;
  created(ctx, w.parent, w.name, e);
  return 0;
}

Result do_link(ServeCtx &ctx, const Decoded &d, ReplyBuf &) {
  if (!mutations_allowed(ctx)) return kToKernel;
  WalkResult from, to;
  Result rc = walk_path(ctx, spec_of(d, 0, (d.req.flags & wire::kFollow2) != 0), &from);
  if (!rc.ok()) return rc;
  if (!from.exists) return -ENOENT;
  rc = walk_path(ctx, spec_of(d, 1, false), &to);
  if (!rc.ok()) return rc;
  if (!has_name(to)) return kToKernel;
  if (to.exists) return -EEXIST;
  struct stat src;
  if (!(rc = fresh_attr(ctx, from.ino, &src)).ok()) return rc;
  if (ctx.mount->protected_hardlinks && !owner_or_capable(*ctx.creds, src)) {
    bool safe = S_ISREG(src.st_mode) && !(src.st_mode & S_ISUID) &&
                (src.st_mode & (S_ISGID | S_IXGRP)) != (S_ISGID | S_IXGRP) &&
                (!dp(ctx) || check_permission(*ctx.creds, src, 4 | 2) == 0);
    if (!safe) return -EPERM;
  }
  if (!(rc = may_create(ctx, to)).ok()) return rc;
  if (S_ISDIR(src.st_mode)) return -EPERM;
  fuse_entry_param e{};
  rc = fs_link(ctx.call(), from.ino, to.parent, to.name.c_str(), &e);
  if (rc.is_error(ENOSYS)) return -EPERM;
  if (!rc.ok()) return rc;
  created(ctx, to.parent, to.name, e);
  ctx.cache->invalidate_attr(from.ino);
  ctx.inval.inode(from.ino);
  return 0;
}

Result do_statfs(ServeCtx &ctx, const Decoded &d, ReplyBuf &out) {
  WalkResult w;
  Result rc = find_file(ctx, d, spec_of(d, 0, true), &w);
  if (!rc.ok()) return rc;
  if (!w.exists) return -ENOENT;
  struct statvfs st {};
  rc = fs_statfs(ctx.call(), w.ino, &st);
  if (rc.is_error(ENOSYS)) {
    // The kernel answers a file system without statfs with zeroes and a name length.
    memset(&st, 0, sizeof(st));
    st.f_namemax = 255;
    st.f_bsize = 512;
    rc = 0;
  }
  if (!rc.ok()) return rc;
  wire::Statfs &s = out.rep->statfs;
  s.bsize = st.f_bsize;
  s.frsize = st.f_frsize;
  s.blocks = st.f_blocks;
  s.bfree = st.f_bfree;
  s.bavail = st.f_bavail;
  s.files = st.f_files;
  s.ffree = st.f_ffree;
  s.favail = st.f_favail;
  s.namemax = st.f_namemax;
  return 0;
}

Result do_xattr(ServeCtx &ctx, const Decoded &d, ReplyBuf &out, bool list) {
  uint32_t forwarded_bit = 0;
  const std::string name(list ? std::string_view() : d.name);
  if (!list) {
    if (name.empty()) return -ERANGE;
    if (name.compare(0, 5, "user.") != 0) {
      // Other namespaces: the kernel, unless it was seen asking the file system.
      forwarded_bit = wire::xattr_bit(name.c_str());
      if (forwarded_bit == 0 || !(ctx.kernel->xattrs_forwarded() & forwarded_bit)) return kToKernel;
    }
  }
  WalkResult w;
  Result rc = find_file(ctx, d, spec_of(d, 0, !(d.req.flags & wire::kNoFollow)), &w);
  if (!rc.ok()) return rc;
  if (!w.exists) return -ENOENT;
  // A POSIX ACL name the kernel hands the file system (wire::xattr_bit, learned from its
  // requests): the kernel turns ACLs into its own form, so only their absence is answered
  // here (absent_xattr). (The security label goes as a user.* name does, without the
  // permission check: the VFS checks none for security.* and system.* reads.)
  if (forwarded_bit != 0 && forwarded_bit != wire::kXattrSelinux)
    return absent_xattr(ctx.call(), w.ino, w.attr.st_mode, forwarded_bit) ? Result(-ENODATA)
                                                                          : Result(kToKernel);
  if (!list && forwarded_bit == 0) {
    // xattr_permission() for user.*: only files and directories, and read permission.
    if (!S_ISREG(w.attr.st_mode) && !S_ISDIR(w.attr.st_mode)) return -ENODATA;
    if (dp(ctx)) {
      struct stat st;
      if (!(rc = fresh_attr(ctx, w.ino, &st)).ok()) return rc;
      if (!(rc = check_permission(*ctx.creds, st, 4)).ok()) return rc;
    }
  }
  size_t want = std::min<uint64_t>(d.req.size, 65536);
  if (want > out.cap) return kToKernel;  // larger than a slot: the kernel path has room
  size_t len = 0;
  rc = list ? fs_listxattr(ctx.call(), w.ino, want, out.data, &len)
            : fs_getxattr(ctx.call(), w.ino, name.c_str(), want, out.data, &len);
  // A file system without xattrs: EOPNOTSUPP, as the kernel says; for the security label the
  // kernel then falls back to its own answer, which only it knows.
  if (rc.is_error(ENOSYS)) return forwarded_bit != 0 ? Result(kToKernel) : Result(-EOPNOTSUPP);
  if (!rc.ok()) return rc;
  if (want != 0) {
    if (len > want) return -ERANGE;
    out.rep->data_len = static_cast<uint32_t>(len);
  }
  return static_cast<int32_t>(len);
}

// opendir and fdopendir (a listing from an offset, by path or by the fd's node), the readdir
// calls that need more of a listing than its first reply held, and closedir before the end.
Result do_readdir(ServeCtx &ctx, const Decoded &d, ReplyBuf &out) {
  if (ctx.listings == nullptr || ctx.listing_budget == nullptr) return kToKernel;
  const wire::Request &r = d.req;
  if (r.stream != 0) {
    if (r.flags & wire::kRelease) {
      ctx.listings->drop(r.stream);
      return 0;
    }
    size_t len = 0;
    bool end = false;
    if (!ctx.listings->take(r.stream, out.data, out.cap, &len, &end)) return kToKernel;
    out.rep->data_len = static_cast<uint32_t>(len);
    if (end)
      out.rep->hints |= wire::kHintListEnd;
    else
      out.rep->stream = r.stream;
    return 0;
  }
  WalkResult w;
  Result rc = find_file(ctx, d, spec_of(d, 0, true), &w);
  if (!rc.ok()) return rc;
  if (!w.exists) return -ENOENT;
  if (!S_ISDIR(w.attr.st_mode)) return -ENOTDIR;
  // The xattrs the client's process reads for every file it lists (`ls -l`), asked of each
  // entry now: only names the bypass answers (the kernel hands them to the file system); and
  // the entries' attributes, for the stats that follow. Only for a caller that may look the
  // entries up (search permission).
  uint32_t want =
      (r.mode & wire::kXattrAll & ctx.kernel->xattrs_forwarded()) | (r.mode & wire::kListAttrs);
  if (dp(ctx)) {
    // may_open()'s read permission, judged now for a listing by node too: an fd opened
    // without it (O_PATH) names the node as well.
    struct stat st = w.attr;
    if (!w.from_kernel_entry && !(rc = fresh_attr(ctx, w.ino, &st)).ok()) return rc;
    if (!(rc = check_permission(*ctx.creds, st, 4)).ok()) return rc;
    if (check_permission(*ctx.creds, st, 1) != 0) want = 0;
  }
  // A mount below ours: a name in the listing may be its mount point, whose attributes and
  // xattrs are the other file system's (stat asks the kernel then: walk_path).
  if (!ctx.mount->nested.empty()) want = 0;
  EntryBytes bytes;
  rc = read_directory(ctx, w.ino, r.size, want, &bytes, &out.rep->absent_valid_ns);
  if (!rc.ok()) return rc;
  to_wire(w.attr, &out.rep->attr);
  out.rep->node = w.ino;
  size_t pos = 0;
  out.rep->data_len = static_cast<uint32_t>(copy_entries(bytes, &pos, out.data, out.cap));
  if (pos >= bytes.size()) {
    out.rep->hints |= wire::kHintListEnd;
    return 0;
  }
  out.rep->stream = ctx.listings->keep(std::move(bytes), pos, ctx.listing_budget);
  if (out.rep->stream == 0) {
    out.rep->data_len = 0;
    return kToKernel;  // more kept listings than allowed: the kernel lists this one
  }
  return 0;
}

Result dispatch(ServeCtx &ctx, const Decoded &d, ReplyBuf &out) {
  switch (d.op) {
    case wire::Op::kStat: return do_stat(ctx, d, out);
    case wire::Op::kAccess: return do_access(ctx, d, out);
    case wire::Op::kUnlink: return do_unlink_or_rmdir(ctx, d, false);
    case wire::Op::kRmdir: return do_unlink_or_rmdir(ctx, d, true);
    case wire::Op::kMkdir: return do_mkdir(ctx, d, out);
    case wire::Op::kRename: return do_rename(ctx, d, out);
    case wire::Op::kSetattr: return do_setattr(ctx, d, out);
    case wire::Op::kReadlink: return do_readlink(ctx, d, out);
    case wire::Op::kSymlink: return do_symlink(ctx, d, out);
    case wire::Op::kLink: return do_link(ctx, d, out);
    case wire::Op::kStatfs: return do_statfs(ctx, d, out);
    case wire::Op::kGetxattr: return do_xattr(ctx, d, out, false);
    case wire::Op::kListxattr: return do_xattr(ctx, d, out, true);
    case wire::Op::kReaddir:
      return do_readdir(ctx, d, out);
    case wire::Op::kBatch:  // a container, served by Server::serve_batch
    case wire::Op::kCount: break;
  }
  return kToKernel;
}

// wire::kByFd: only the operations an fd can name, only on a verified final component, and
// only successes (the kernel, which sees the fd, decides every refusal). wire::kByNode: the
// same and readdir, on the node the client's fd names, and likewise only successes.
Result serve_by_fd(ServeCtx &ctx, const Decoded &d, ReplyBuf &out) {
  using wire::Op;
  if (d.req.flags & wire::kByNode) {
    bool node_op = d.op == Op::kStat || d.op == Op::kSetattr || d.op == Op::kReaddir ||
                   d.op == Op::kGetxattr || d.op == Op::kListxattr || d.op == Op::kStatfs;
    if (!node_op) return kToKernel;
  } else {
    bool fd_op = d.op == Op::kStat || d.op == Op::kSetattr || d.op == Op::kGetxattr ||
                 d.op == Op::kListxattr || d.op == Op::kStatfs;
    if (!fd_op || d.path[0].empty() || d.req.path[0].verify_len != d.path[0].size())
      return kToKernel;
  }
  Result rc = dispatch(ctx, d, out);
  if (rc.ok() || rc.to_kernel()) return rc;
  bool xattr_answer = (d.op == Op::kGetxattr || d.op == Op::kListxattr) &&
                      (rc.is_error(ENODATA) || rc.is_error(ERANGE));
  if (xattr_answer) return rc;
  out.rep->data_len = 0;
  return kToKernel;
}

}  // namespace

Result serve_request(ServeCtx &ctx, const Decoded &d, ReplyBuf &out) {
  out.rep->data_len = 0;
  out.rep->hints = 0;
  if (d.req.flags & (wire::kByFd | wire::kByNode)) return serve_by_fd(ctx, d, out);
  return dispatch(ctx, d, out);
}

}  // namespace finesse::server
