// finesse_batch (include/finesse/finesse.h): a batch's independent calls on attached mounts
// go to their servers in multi-call requests (packs of up to 64, four in flight), the others
// (readlink, getxattr, every call of an ordered batch) one per request, a window at a time
// (batch_ops.h); each is reaped oldest first. The kernel makes the rest meanwhile, with the
// very libc call each mirrors.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "batch_ops.h"
#include "bypass_ops.h"
#include "finesse/finesse.h"
#include "wire.h"

using namespace finesse::client;

namespace {

// Requests of one batch in flight at once: half the slots of a connection, the rest left to
// the process's other threads.
constexpr size_t kWindow = finesse::wire::kSlotCount / 2;

bool known_kind(int op) {
  return op >= FINESSE_OP_STAT && op <= FINESSE_OP_GETXATTR;
}

// The kernel's answer to o: its libc call.
long kernel_call(const finesse_op &o) {
  switch (o.op) {
    case FINESSE_OP_STAT:
      return fstatat(o.dirfd, o.path, static_cast<struct stat *>(o.buf), o.flags);
    case FINESSE_OP_STATX:
      return statx(o.dirfd, o.path, o.flags, o.mask, static_cast<struct statx *>(o.buf));
    case FINESSE_OP_ACCESS:
      return faccessat(o.dirfd, o.path, static_cast<int>(o.mode), o.flags);
    case FINESSE_OP_UNLINK:
      return unlinkat(o.dirfd, o.path, o.flags);
    case FINESSE_OP_MKDIR:
      return mkdirat(o.dirfd, o.path, o.mode);
    case FINESSE_OP_RENAME:
      return renameat2(o.dirfd, o.path, o.dirfd2, o.path2, static_cast<unsigned>(o.flags));
    case FINESSE_OP_CHMOD:
      return fchmodat(o.dirfd, o.path, o.mode, o.flags);
    case FINESSE_OP_CHOWN:
      return fchownat(o.dirfd, o.path, o.uid, o.gid, o.flags);
    case FINESSE_OP_UTIMENS:
      return utimensat(o.dirfd, o.path, o.times, o.flags);
    case FINESSE_OP_SYMLINK:
      return symlinkat(o.path2, o.dirfd, o.path);
    case FINESSE_OP_LINK:
      return linkat(o.dirfd, o.path, o.dirfd2, o.path2, o.flags);
    case FINESSE_OP_READLINK:
      return readlinkat(o.dirfd, o.path, static_cast<char *>(o.buf), o.size);
    case FINESSE_OP_GETXATTR:
      if (o.dirfd != AT_FDCWD) {
        errno = EINVAL;
        return -1;
      }
      return (o.flags & AT_SYMLINK_NOFOLLOW) ? lgetxattr(o.path, o.name, o.buf, o.size)
                                             : getxattr(o.path, o.name, o.buf, o.size);
    default:
      errno = EINVAL;
      return -1;
  }
}

void set_outcome(finesse_op &o, long result, int error, int route) {
  o.result = result;
  o.error = result < 0 ? error : 0;
  o.route = route;
}

void by_kernel(finesse_op &o) {
  note_route(false);
  errno = 0;
  long r = kernel_call(o);
  set_outcome(o, r, errno, FINESSE_ROUTE_KERNEL);
}

void by_bypass(finesse_op &o, finesse::Result rc) {
  note_route(true);
  set_outcome(o, rc.failed() ? -1 : static_cast<long>(rc.rc()),
              rc.failed() ? static_cast<int>(-rc.rc()) : 0, FINESSE_ROUTE_BYPASS);
}

// The calls posted and not reaped yet: indices into ops, oldest first.
struct Window {
  size_t index[kWindow];
  BatchPost post[kWindow];
  size_t head = 0, count = 0;
};

void reap_oldest(finesse_op *ops, Window &w) {
  const size_t at = w.head;
  finesse_op &o = ops[w.index[at]];
  finesse::Result rc = batch_reap(o, w.post[at]);
  w.head = (w.head + 1) % kWindow;
  w.count--;
  if (rc.to_kernel())
    by_kernel(o);
  else
    by_bypass(o, rc);
}

// Independent calls go in multi-call requests (wire::kBatch): a pack being filled, and the
// packs posted and not reaped yet, oldest first.
constexpr size_t kPacksInFlight = 4;
struct PackCalls {
  uint32_t count = 0;
  uint32_t index[finesse::wire::kBatchMax];
};
struct Packs {
  Pack open;
  PackCalls open_calls;
  Posted posted[kPacksInFlight];
  PackCalls calls[kPacksInFlight];
  size_t head = 0, count = 0;
};

void abandon_packs(finesse_op *ops, Packs &p);

struct Unpacking {
  finesse_op *ops;
  const PackCalls *calls;
};

void reap_oldest_pack(finesse_op *ops, Packs &p) {
  const size_t at = p.head;
  const PackCalls &calls = p.calls[at];
  Unpacking u{ops, &calls};
  finesse::Result rc = channel_reap_pack(
      p.posted[at], calls.count,
      [](void *ctx, uint32_t i, const finesse::wire::BatchReply &r, const KernelFacts &facts) {
        auto *u = static_cast<Unpacking *>(ctx);
        finesse_op &o = u->ops[u->calls->index[i]];
        finesse::Result one = batch_unpack(o, r, facts);
        if (one.to_kernel())
          by_kernel(o);
        else
          by_bypass(o, one);
      },
      &u);
  p.head = (p.head + 1) % kPacksInFlight;
  p.count--;
  if (!rc.to_kernel() && !rc.failed()) return;  // each call had its answer
  for (uint32_t i = 0; i < calls.count; i++) {
    finesse_op &o = ops[calls.index[i]];
    // The server died holding the pack: its changes may have been made, never repeated.
    if (rc.failed() && batch_mutation(o))
      by_bypass(o, rc);
    else
      by_kernel(o);
  }
  abandon_packs(ops, p);
}

// A pack came back unserved (its server gone or stuck): the open pack's calls go to the
// kernel, and the packs in flight are reaped now, so that no reference of ours keeps the
// connection from being remade (channel.cpp: acquire waits for its users to leave).
void abandon_packs(finesse_op *ops, Packs &p) {
  for (uint32_t i = 0; i < p.open_calls.count; i++) by_kernel(ops[p.open_calls.index[i]]);
  p.open_calls.count = 0;
  channel_pack_drop(p.open);
  while (p.count > 0) reap_oldest_pack(ops, p);
}

// Posts the open pack, if it holds calls, as the newest in flight (room made first).
void post_open_pack(finesse_op *ops, Packs &p) {
  if (p.open.conn == nullptr) return;
  if (p.open.count == 0) {
    channel_pack_drop(p.open);
    return;
  }
  if (p.count == kPacksInFlight) reap_oldest_pack(ops, p);
  const size_t at = (p.head + p.count) % kPacksInFlight;
  p.calls[at] = p.open_calls;
  channel_pack_post(p.open, &p.posted[at]);
  p.count++;
  p.open_calls.count = 0;
}

// Adds op i of ops to the batch in flight: packed, posted, answered or made by the kernel.
void send_one(finesse_op *ops, size_t i, Window &w, Packs *packs, size_t window) {
  finesse_op &o = ops[i];
  if (packs != nullptr && packs->count == kPacksInFlight) reap_oldest_pack(ops, *packs);
  Posted flushed;
  BatchPost p = packs != nullptr ? batch_post(o, &packs->open, &flushed) : batch_post(o);
  if (flushed.conn != nullptr) {
    // The open pack (another mount's, or full) went out to make room for o.
    const size_t at = (packs->head + packs->count) % kPacksInFlight;
    packs->posted[at] = flushed;
    packs->calls[at] = packs->open_calls;
    packs->count++;
    packs->open_calls.count = 0;
  }
  switch (p.state) {
    case BatchPost::State::kPacked:
      packs->open_calls.index[packs->open_calls.count++] = static_cast<uint32_t>(i);
      break;
    case BatchPost::State::kPosted: {
      const size_t at = (w.head + w.count) % kWindow;
      w.index[at] = i;
      w.post[at] = p;
      w.count++;
      if (w.count >= window) reap_oldest(ops, w);
      break;
    }
    case BatchPost::State::kAnswered:
      by_bypass(o, p.answered);
      break;
    case BatchPost::State::kKernel:
      by_kernel(o);
      break;
  }
}

}  // namespace

extern "C" __attribute__((visibility("default"))) long finesse_batch(struct finesse_op *ops,
                                                                     size_t n, unsigned flags) {
  if ((flags & ~(FINESSE_BATCH_ORDERED | FINESSE_BATCH_STOP_ON_ERROR)) || (ops == nullptr && n)) {
    errno = EINVAL;
    return -1;
  }
  const int saved_errno = errno;
  const bool stop = flags & FINESSE_BATCH_STOP_ON_ERROR;
  const bool ordered = flags & (FINESSE_BATCH_ORDERED | FINESSE_BATCH_STOP_ON_ERROR);
  Window w;
  Packs packs;
  bool stopped = false;
  for (size_t i = 0; i < n; i++) {
    finesse_op &o = ops[i];
    if (stopped) {
      set_outcome(o, -1, ECANCELED, FINESSE_ROUTE_NONE);
      continue;
    }
    if (!known_kind(o.op))
      set_outcome(o, -1, EINVAL, FINESSE_ROUTE_NONE);
    else
      send_one(ops, i, w, ordered ? nullptr : &packs, ordered ? 1 : kWindow);
    // (Ordered: nothing is packed and the window is 1, so o has its outcome here.)
    if (stop && o.result < 0) stopped = true;
  }
  post_open_pack(ops, packs);
  while (packs.count > 0) reap_oldest_pack(ops, packs);
  while (w.count > 0) reap_oldest(ops, w);
  long failed = 0;
  for (size_t i = 0; i < n; i++) failed += ops[i].result < 0;
  errno = saved_errno;
  return failed;
}
