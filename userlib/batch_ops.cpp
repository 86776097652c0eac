#include "batch_ops.h"

#include <fcntl.h>

#include "call.h"
#include "resolve.h"
#include "scratch.h"

namespace finesse::client {

namespace {

using wire::Op;
using State = BatchPost::State;

// What o sends: its request in c, wire op, whether it changes anything, how many paths, and
// whether a listing may answer it (a stat). False: the kernel must judge it.
struct Shape {
  Op op = Op::kStat;
  bool mutation = false;
  int paths = 1;
  bool listed = false;
};
bool describe(const finesse_op &o, Call &c, Shape *sh) {
  switch (o.op) {
    case FINESSE_OP_STAT:
      sh->listed = true;
      return o.buf != nullptr && stat_req(c, o.flags);
    case FINESSE_OP_STATX:
      return o.buf != nullptr && statx_req(c, o.flags, o.mask, &sh->listed);
    case FINESSE_OP_ACCESS:
      sh->op = Op::kAccess;
      return access_req(c, static_cast<int>(o.mode), o.flags);
    case FINESSE_OP_UNLINK:
      sh->mutation = true;
      return unlink_req(o.flags, &sh->op);
    case FINESSE_OP_MKDIR:
      *sh = {Op::kMkdir, true, 1, false};
      c.req.mode = o.mode;
      return true;
    case FINESSE_OP_RENAME:
      *sh = {Op::kRename, true, 2, false};
      c.req.rename_flags = static_cast<uint32_t>(o.flags);
      return true;
    case FINESSE_OP_CHMOD:
      *sh = {Op::kSetattr, true, 1, false};
      return fchmodat_req(c, o.mode, o.flags);
    case FINESSE_OP_CHOWN:
      *sh = {Op::kSetattr, true, 1, false};
      return fchownat_req(c, o.uid, o.gid, o.flags);
    case FINESSE_OP_UTIMENS:
      *sh = {Op::kSetattr, true, 1, false};
      return utimensat_req(c, o.path, o.times, o.flags);
    case FINESSE_OP_SYMLINK:
      *sh = {Op::kSymlink, true, 1, false};
      return symlink_req(c, o.path2);
    case FINESSE_OP_LINK:
      *sh = {Op::kLink, true, 2, false};
      return link_req(c, o.flags);
    case FINESSE_OP_READLINK:
      sh->op = Op::kReadlink;
      return o.buf != nullptr && readlink_req(c, o.size);
    case FINESSE_OP_GETXATTR:
      sh->op = Op::kGetxattr;
      // (A null buffer with a size: EFAULT, the kernel's.)
      if ((o.flags & ~AT_SYMLINK_NOFOLLOW) || o.dirfd != AT_FDCWD || (o.buf == nullptr && o.size))
        return false;
      c.req.flags = (o.flags & AT_SYMLINK_NOFOLLOW) ? wire::kNoFollow : 0;
      return xattr_req(c, o.name, o.size);
    default:
      return false;
  }
}

// The answer o's output takes from a reply (rc: the server's result, not a fallback).
void write_output(const finesse_op &o, const Call &c, Result rc) {
  if (!rc.ok()) return;
  if (o.op == FINESSE_OP_STAT) fill_stat(c.rep.attr, c.facts, static_cast<struct stat *>(o.buf));
  if (o.op == FINESSE_OP_STATX) fill_statx(c.rep.attr, c.facts, static_cast<struct statx *>(o.buf));
}

}  // namespace

BatchPost batch_post(finesse_op &o, Pack *pack, Posted *flushed) {
  BatchPost p;
  Call c;
  Shape sh;
  if (!describe(o, c, &sh)) return p;
  CallGuard g;
  Scratch *w = g.scratch();
  if (w == nullptr) return p;
  Target &from = w->target[0], &to = w->target[1];
  const bool two = sh.paths == 2;
  if (!resolve_target(o.dirfd, o.path, &from) ||
      (two && (!resolve_target(o.dirfd2, o.path2, &to) || to.m.mnt_id != from.m.mnt_id)))
    return p;
  if (sh.listed && answered_by_listing(o.dirfd, o.path, from, c)) {
    write_output(o, c, 0);
    p.state = State::kAnswered;
    p.answered = 0;
    return p;
  }
  const uint32_t bit = c.s.xattr_bit;
  AbsentXattrs::Through through;
  if (o.op == FINESSE_OP_GETXATTR && bit != 0 && listing_may_answer(o.path, from, &through) &&
      channel_known_absent(from.m, from.rel, from.rel_len, bit, !(c.req.flags & wire::kNoFollow),
                           through) &&
      listed_base_current(AT_FDCWD, from)) {
    p.state = State::kAnswered;
    p.answered = -ENODATA;
    return p;
  }
  set_path(c, 0, from);
  if (two) set_path(c, 1, to);
  if (pack != nullptr && wire::batchable(sh.op)) {
    if (pack->conn != nullptr && pack->mnt_id != from.m.mnt_id) channel_pack_post(*pack, flushed);
    for (int attempt = 0; attempt < 2; attempt++) {
      if (pack->conn == nullptr && !channel_pack_begin(from.m, pack)) break;
      if (channel_pack_add(*pack, sh.op, c.req, c.s, sh.mutation)) {
        p.state = State::kPacked;
        return p;
      }
      if (pack->count == 0) {  // does not fit even alone: its own request
        channel_pack_drop(*pack);
        break;
      }
      channel_pack_post(*pack, flushed);  // full
    }
  }
  if (!channel_post(from.m, sh.op, c.req, c.s, sh.mutation, &p.posted)) return p;
  p.cwd_based = c.req.flags & (wire::kCwdBase0 | wire::kCwdBase1);
  p.state = State::kPosted;
  return p;
}

Result batch_reap(finesse_op &o, BatchPost &p) {
  Call c;
  const bool data = o.op == FINESSE_OP_READLINK || o.op == FINESSE_OP_GETXATTR;
  char none[1];
  Result rc = channel_reap(p.posted, &c.rep, data ? static_cast<char *>(o.buf) : none,
                           data ? o.size : 0, &c.facts);
  // Refused with a cached cwd: it may be stale (a chdir the shim did not see).
  if (rc.to_kernel() && p.cwd_based) cwd_base_refused();
  if (!rc.to_kernel()) write_output(o, c, rc);
  return rc;
}

Result batch_unpack(finesse_op &o, const wire::BatchReply &r, const KernelFacts &facts) {
  Result rc = Result::from_wire(r.result);
  if (rc.ok()) {
    Call c;
    c.rep.attr = r.attr;
    c.facts = facts;
    write_output(o, c, rc);
  }
  return rc;
}

bool batch_mutation(const finesse_op &o) {
  switch (o.op) {
    case FINESSE_OP_STAT:
    case FINESSE_OP_STATX:
    case FINESSE_OP_ACCESS:
    case FINESSE_OP_READLINK:
    case FINESSE_OP_GETXATTR:
      return false;
    default:
      return true;
  }
}

}  // namespace finesse::client
