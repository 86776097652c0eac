#include "path_walk.h"

#include <cerrno>

#include "clock.h"
#include "dot_names.h"
#include "wire.h"

namespace finesse::server {

namespace {

constexpr size_t kFuseNameMax = 1024;  // the kernel lets FUSE names this long through

// The time a walk judges freshness by: read once, and again after each call to the file
// system (which may take long); in between a walk takes microseconds, far below the
// kernel's own jiffy-grained expiry checks. (A clock read is a tenth of a cached walk.)
struct WalkClock {
  int64_t ns = now_ns();
  void moved() { ns = now_ns(); }
};

// Cached attributes, or fresh ones when refresh is set or nothing is cached.
Result node_attr(ServeCtx &ctx, fuse_ino_t ino, bool refresh, struct stat *attr, WalkClock &clock) {
  bool fresh = false;
  if (!refresh && ctx.cache->node_attr(ino, clock.ns, attr, &fresh)) return 0;
  if (refresh && ctx.cache->node_attr(ino, clock.ns, attr, &fresh) && fresh) return 0;
  Result rc = synced_attr(ctx, ino, attr);
  clock.moved();
  return rc;
}

// The search permission check of the kernel's may_lookup(), with its refresh-and-retry.
Result may_search(ServeCtx &ctx, fuse_ino_t dir, struct stat *attr, WalkClock &clock) {
  if (!S_ISDIR(attr->st_mode)) return -ENOTDIR;
  if (!ctx.mount->default_permissions) return 0;
  // fuse_permission(): expired attributes are refreshed before they are used.
  Result rc = node_attr(ctx, dir, true, attr, clock);
  if (!rc.ok()) return rc;
  if (check_permission(*ctx.creds, *attr, 1) == 0) return 0;
  rc = node_attr(ctx, dir, true, attr, clock);
  if (!rc.ok()) return rc;
  if (!S_ISDIR(attr->st_mode)) return -ENOTDIR;
  return check_permission(*ctx.creds, *attr, 1);
}

// Looks name up in dir: 0 with *e filled, -ENOENT, or another error.
// *fresh: the attributes are current (just looked up, or cached and not expired); stale ones
// must not decide anything (the kernel refreshes them first).
// *kernel_entry (when not null): the answer may come from a kernel entry, and did: the
// kernel's node (pinned against its forget), with the entry's attributes if fresh (else
// *fresh is false, and the caller refreshes them).
Result lookup(ServeCtx &ctx, fuse_ino_t dir, std::string_view name, fuse_ino_t *ino,
              struct stat *attr, bool *fresh, bool *kernel_entry, WalkClock &clock) {
  const int64_t now = clock.ns;
  CacheHit hit = ctx.cache->find(dir, name, now, &ctx.pins);
  if (hit.kind == CacheHit::kNegative) return -ENOENT;
  const bool positive = hit.kind == CacheHit::kPositive;
  if (!(positive && hit.attr_fresh) && kernel_entry != nullptr) {
    bool attr_fresh = false;
    if (ctx.cache->find_kernel_entry(dir, name, now, ino, attr, &ctx.pins, &attr_fresh) &&
        (attr_fresh || !positive)) {
      *fresh = attr_fresh;
      *kernel_entry = true;
      return 0;
    }
  }
  if (positive) {
    *ino = hit.ino;
    *attr = hit.attr;
    *fresh = hit.attr_fresh;
    return 0;
  }
  *fresh = true;
  std::string n(name);
  uint64_t gen = ctx.cache->generation();
  fuse_entry_param e{};
  Result rc = fs_lookup(ctx.call(), dir, n.c_str(), &e);
  clock.moved();
  if (!rc.ok()) return rc;
  ctx.cache->insert(dir, n, e, gen, clock.ns, &ctx.forgets, &ctx.pins);
  if (e.ino == 0) return -ENOENT;
  *ino = e.ino;
  *attr = e.attr;
  return 0;
}

}  // namespace

Result synced_attr(ServeCtx &ctx, fuse_ino_t ino, struct stat *attr) {
  uint64_t gen = ctx.cache->generation();
  double timeout = 0;
  Result rc = fs_getattr(ctx.call(), ino, attr, &timeout);
  if (rc.ok()) ctx.cache->set_attr(ino, *attr, timeout, gen, now_ns());
  return rc;
}

Result fresh_attr(ServeCtx &ctx, fuse_ino_t ino, struct stat *attr) {
  WalkClock clock;
  return node_attr(ctx, ino, true, attr, clock);
}

Result walk_path(ServeCtx &ctx, const WalkSpec &spec, WalkResult *out) {
  std::string_view path = spec.path;
  if (path.size() >= wire::kPathMax) return -ENAMETOOLONG;
  if (!path.empty() && (path.back() == '/' || path.front() == '/')) return kToKernel;
  out->chain.assign(1, FUSE_ROOT_ID);
  fuse_ino_t cur = FUSE_ROOT_ID;
  struct stat cur_attr {};
  WalkClock clock;
  Result rc = node_attr(ctx, cur, false, &cur_attr, clock);
  if (!rc.ok()) return rc;
  std::string cum;  // path walked so far, for the nested-mount check
  std::vector<size_t> cum_marks;

  if (path.empty()) {
    if (spec.verify_len != 0) return kToKernel;
    out->exists = true;
    out->ino = FUSE_ROOT_ID;
    out->attr = cur_attr;
    return 0;
  }

  bool verified = spec.verify_len == 0;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string_view comp = path.substr(pos, end - pos);
    bool last = end == path.size();
    pos = end + 1;
    if (comp.empty()) continue;  // "a//b"

    // Every component, `.` and `..` included, is looked up in a searchable directory.
    // Before the client's base is verified, an error may only mean the base moved: then the
    // kernel must answer.
    rc = may_search(ctx, cur, &cur_attr, clock);
    if (!rc.ok()) return verified ? rc : kToKernel;

    if (is_dot_name(comp)) {
      if (comp == "..") {
        if (out->chain.size() == 1) return kToKernel;  // would leave the mount
        out->chain.pop_back();
        cur = out->chain.back();
        cum.resize(cum_marks.back());
        cum_marks.pop_back();
        rc = node_attr(ctx, cur, false, &cur_attr, clock);
        if (!rc.ok()) return verified ? rc : kToKernel;
      }
      if (last) {
        if (!verified) return kToKernel;
        out->dot = true;
        out->exists = true;
        out->ino = cur;
        out->attr = cur_attr;
        return 0;
      }
      continue;
    }
    if (comp.size() > kFuseNameMax) return verified ? Result(-ENAMETOOLONG) : kToKernel;

    fuse_ino_t child = 0;
    struct stat child_attr {};
    bool child_fresh = false, kernel_entry = false;
    rc = lookup(ctx, cur, comp, &child, &child_attr, &child_fresh,
                last && spec.attr_only ? &kernel_entry : nullptr, clock);
    if (rc.ok() && last && !child_fresh) rc = node_attr(ctx, child, true, &child_attr, clock);
    if (rc.is_error(ENOENT) && last) {
      if (!verified) return kToKernel;
      out->parent = cur;
      out->parent_attr = cur_attr;
      out->name = std::string(comp);
      out->exists = false;
      return 0;
    }
    if (!rc.ok()) return verified ? rc : kToKernel;

    cum_marks.push_back(cum.size());
    if (!cum.empty()) cum += '/';
    cum.append(comp);
    if (!ctx.mount->nested.empty() && ctx.mount->nested.count(cum)) return kToKernel;
    if (S_ISLNK(child_attr.st_mode) && (!last || spec.follow_final)) return kToKernel;

    if (last) {
      // verify_len == path length: the client's fd names this very inode (fstat).
      if (!verified && end == spec.verify_len &&
          static_cast<uint64_t>(child_attr.st_ino) == spec.verify_ino)
        verified = true;
      if (!verified) return kToKernel;
      out->parent = cur;
      out->parent_attr = cur_attr;
      out->name = std::string(comp);
      out->exists = true;
      out->ino = child;
      out->attr = child_attr;
      out->from_kernel_entry = kernel_entry;
      return 0;
    }
    out->chain.push_back(child);
    cur = child;
    cur_attr = child_attr;
    if (!verified && end == spec.verify_len) {
      // The client's cwd/dirfd must still be the directory at that path.
      if (static_cast<uint64_t>(cur_attr.st_ino) != spec.verify_ino) return kToKernel;
      verified = true;
    }
  }
  return kToKernel;
}

}  // namespace finesse::server
