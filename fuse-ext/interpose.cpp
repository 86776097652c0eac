// The libfuse entry points libfinesse_fuse.so interposes (by LD_PRELOAD, or by being linked
// before libfuse3). Session calls capture the file system and start/stop the server; reply
// and request calls answer synthetic requests here and forward kernel ones to libfuse.
#define FUSE_USE_VERSION 34
#include <dlfcn.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>

#include "clock.h"
#include "extension.h"
#include "fs_state.h"
#include "kernel_view.h"
#include "op_trampolines.h"
#include "synthetic_req.h"
#include "tuning.h"

using finesse::server::complete;
using finesse::server::ReplyKind;
using finesse::server::SyntheticReq;

namespace {

template <typename Fn>
Fn real(const char *name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}
#define REAL(fn) ([] {                                   \
  static auto f = real<decltype(&fn)>(#fn);              \
  return f;                                              \
}())

// The extension: libfuse's entry points have no context of ours but its one root.
finesse::server::Extension &ext() {
  return finesse::server::extension();
}

// req as one of the bypass's synthetic requests, or nullptr for the kernel's.
SyntheticReq *as_synthetic(fuse_req_t req) {
  return ext().fs.reqs.find(req);
}

void copy_out(SyntheticReq *s, const char *data, size_t size) {
  s->buf_len = size;
  if (s->buf != nullptr) memcpy(s->buf, data, std::min(size, s->buf_cap));
}

}  // namespace

#define EXPORT extern "C" __attribute__((visibility("default")))

EXPORT struct fuse_session *fuse_session_new(struct fuse_args *args,
                                             const struct fuse_lowlevel_ops *op, size_t op_size,
                                             void *userdata) {
  auto &st = ext().fs;
  if (finesse::tuning().disabled || st.session != nullptr || op == nullptr)
    return REAL(fuse_session_new)(args, op, op_size, userdata);
  memset(&st.ops, 0, sizeof(st.ops));
  memcpy(&st.ops, op, std::min(op_size, sizeof(st.ops)));
  st.userdata = userdata;
  finesse::server::build_trampolines();
  st.session = REAL(fuse_session_new)(args, &st.wrapped, sizeof(st.wrapped), userdata);
  return st.session;
}

EXPORT int fuse_session_mount(struct fuse_session *se, const char *mountpoint) {
  auto &st = ext().fs;
  char canonical[PATH_MAX];
  // Resolve before mounting: afterwards the path leads into our own file system.
  bool ok = mountpoint != nullptr && realpath(mountpoint, canonical) != nullptr;
  int rc = REAL(fuse_session_mount)(se, mountpoint);
  if (rc == 0 && ok && se == st.session) {
    st.mountpoint = canonical;
    ext().server.start(st.mountpoint);
  } else if (rc == 0 && se != st.session && !finesse::tuning().disabled) {
    // libfuse >= 3.17 makes sessions in fuse_session_new_versioned (its fuse_session_new is
    // an inline wrapper): we never saw the file system's ops, so there is nothing to serve.
    fprintf(stderr,
            "libfinesse_fuse: the session mounted on %s was not made by fuse_session_new "
            "(libfuse >= 3.17 makes it with fuse_session_new_versioned): no bypass, the kernel "
            "path serves it\n",
            mountpoint != nullptr ? mountpoint : "?");
  }
  return rc;
}

EXPORT void fuse_session_unmount(struct fuse_session *se) {
  if (se == ext().fs.session) ext().server.stop();
  REAL(fuse_session_unmount)(se);
}

EXPORT void fuse_session_destroy(struct fuse_session *se) {
  auto &st = ext().fs;
  if (se == st.session) {
    ext().server.stop();
    REAL(fuse_session_destroy)(se);
    st.session = nullptr;
    st.initialized = false;
    ext().kernel.clear();
    return;
  }
  REAL(fuse_session_destroy)(se);
}

// fuse_daemonize forks: threads do not survive, so the server restarts in the child.
EXPORT int fuse_daemonize(int foreground) {
  auto &st = ext().fs;
  bool restart = !foreground && st.session != nullptr && !st.mountpoint.empty();
  if (restart) ext().server.stop();
  int rc = REAL(fuse_daemonize)(foreground);
  if (restart) ext().server.start(st.mountpoint);
  return rc;
}

// The single-threaded loop: the file system may not be thread-safe, so bypass calls are
// serialised with kernel requests.
EXPORT int fuse_session_loop(struct fuse_session *se) {
  if (se == ext().fs.session) ext().fs.serialize = true;
  return REAL(fuse_session_loop)(se);
}

// A file system's own loop (fuse_session_receive_buf/_process_buf, as libfuse's examples
// show; libfuse's loops use internal versions and do not come here) may be single-threaded
// too: bypass calls are serialised with its requests (a multi-threaded one is serialised as
// well, slower but correct).
EXPORT int fuse_session_receive_buf(struct fuse_session *se, struct fuse_buf *buf) {
  if (se == ext().fs.session) ext().fs.serialize = true;
  return REAL(fuse_session_receive_buf)(se, buf);
}

EXPORT void fuse_session_process_buf(struct fuse_session *se, const struct fuse_buf *buf) {
  if (se == ext().fs.session) ext().fs.serialize = true;
  REAL(fuse_session_process_buf)(se, buf);
}

// The reply to a kernel request that may have changed the file system: clients hear of it
// first (ChangeReplies).
static void changed_before_reply(fuse_req_t req) {
  if (ext().change_replies.replying(req)) ext().server.note_change();
}

EXPORT int fuse_reply_err(fuse_req_t req, int err) {
  if (auto *s = as_synthetic(req)) return complete(s, ReplyKind::kErr, err), 0;
  changed_before_reply(req);
  ext().challenges.note_reply(req);
  return REAL(fuse_reply_err)(req, err);
}

EXPORT void fuse_reply_none(fuse_req_t req) {
  if (auto *s = as_synthetic(req)) return complete(s, ReplyKind::kNone, 0);
  REAL(fuse_reply_none)(req);
}

EXPORT int fuse_reply_entry(fuse_req_t req, const struct fuse_entry_param *e) {
  if (auto *s = as_synthetic(req)) {
    s->entry = *e;
    return complete(s, ReplyKind::kEntry, 0), 0;
  }
  if (e != nullptr) {
    ext().kernel.note_entry(*e);
    const auto &er = finesse::server::entry_request();
    if (er.req == req && er.name != nullptr)
      ext().cache.note_kernel_entry(er.parent, er.name, *e, er.gen, finesse::now_ns());
  }
  changed_before_reply(req);
  ext().challenges.note_reply(req);
  return REAL(fuse_reply_entry)(req, e);
}

EXPORT int fuse_reply_create(fuse_req_t req, const struct fuse_entry_param *e,
                             const struct fuse_file_info *fi) {
  if (auto *s = as_synthetic(req)) {
    s->entry = *e;
    return complete(s, ReplyKind::kEntry, 0), 0;
  }
  if (e != nullptr) {
    ext().kernel.note_entry(*e);
    const auto &er = finesse::server::entry_request();
    if (er.req == req && er.name != nullptr)
      ext().cache.note_kernel_entry(er.parent, er.name, *e, er.gen, finesse::now_ns());
    // A writable handle of the new file, counted before the kernel can release it.
    if (fi != nullptr && (fi->flags & O_ACCMODE) != O_RDONLY) ext().writers.opened(e->ino);
    changed_before_reply(req);
    // The no-open mode: the handle is the extension's, the kernel's file gets handle 0.
    // (Adopted once the kernel has the file: after a failed reply the file system deals with
    // its handle as it would without us. A read that comes first opens a handle of its own.)
    if (fi != nullptr && ext().handles.engaged()) {
      fuse_file_info zero = *fi;
      zero.fh = 0;
      int rc = REAL(fuse_reply_create)(req, e, &zero);
      if (rc == 0) ext().handles.adopt(e->ino, *fi);
      return rc;
    }
  }
  return REAL(fuse_reply_create)(req, e, fi);
}

EXPORT int fuse_reply_attr(fuse_req_t req, const struct stat *attr, double attr_timeout) {
  if (auto *s = as_synthetic(req)) {
    s->attr = *attr;
    s->attr_timeout = attr_timeout;
    return complete(s, ReplyKind::kAttr, 0), 0;
  }
  ext().kernel.note_attr_reply(attr_timeout);
  changed_before_reply(req);
  return REAL(fuse_reply_attr)(req, attr, attr_timeout);
}

EXPORT int fuse_reply_readlink(fuse_req_t req, const char *link) {
  if (auto *s = as_synthetic(req)) {
    copy_out(s, link, strlen(link));
    return complete(s, ReplyKind::kReadlink, 0), 0;
  }
  return REAL(fuse_reply_readlink)(req, link);
}

EXPORT int fuse_reply_buf(fuse_req_t req, const char *buf, size_t size) {
  if (auto *s = as_synthetic(req)) {
    copy_out(s, buf, size);
    return complete(s, ReplyKind::kBuf, 0), 0;
  }
  return REAL(fuse_reply_buf)(req, buf, size);
}

EXPORT int fuse_reply_iov(fuse_req_t req, const struct iovec *iov, int count) {
  if (auto *s = as_synthetic(req)) {
    size_t total = 0;
    for (int i = 0; i < count; i++) {
      if (s->buf != nullptr && total < s->buf_cap)
        memcpy(s->buf + total, iov[i].iov_base, std::min(iov[i].iov_len, s->buf_cap - total));
      total += iov[i].iov_len;
    }
    s->buf_len = total;
    return complete(s, ReplyKind::kBuf, 0), 0;
  }
  return REAL(fuse_reply_iov)(req, iov, count);
}

EXPORT int fuse_reply_data(fuse_req_t req, struct fuse_bufvec *bufv, enum fuse_buf_copy_flags f) {
  if (auto *s = as_synthetic(req)) {
    // Only data replies to read would use this; the bypass never sends reads.
    return complete(s, ReplyKind::kErr, EIO), 0;
  }
  return REAL(fuse_reply_data)(req, bufv, f);
}

EXPORT int fuse_reply_statfs(fuse_req_t req, const struct statvfs *stbuf) {
  if (auto *s = as_synthetic(req)) {
    s->stv = *stbuf;
    return complete(s, ReplyKind::kStatfs, 0), 0;
  }
  return REAL(fuse_reply_statfs)(req, stbuf);
}

EXPORT int fuse_reply_xattr(fuse_req_t req, size_t count) {
  if (auto *s = as_synthetic(req)) {
    s->xattr_size = count;
    return complete(s, ReplyKind::kXattr, 0), 0;
  }
  return REAL(fuse_reply_xattr)(req, count);
}

// Replies the bypass never asks for: a synthetic request gets an error, never a crash.
#define FINESSE_UNEXPECTED_REPLY(fn, params, args)                  \
  EXPORT int fn params {                                            \
    if (auto *s = as_synthetic(req)) return complete(s, ReplyKind::kErr, EIO), 0; \
    return REAL(fn) args;                                           \
  }
EXPORT int fuse_reply_open(fuse_req_t req, const struct fuse_file_info *fi) {
  if (auto *s = as_synthetic(req)) {
    s->fi = *fi;
    return complete(s, ReplyKind::kOpen, 0), 0;
  }
  if (fi != nullptr && fi->cache_readdir) ext().kernel.note_dir_cache();
  changed_before_reply(req);
  return REAL(fuse_reply_open)(req, fi);
}
EXPORT int fuse_reply_write(fuse_req_t req, size_t count) {
  if (auto *s = as_synthetic(req)) return complete(s, ReplyKind::kErr, EIO), 0;
  changed_before_reply(req);
  return REAL(fuse_reply_write)(req, count);
}
FINESSE_UNEXPECTED_REPLY(fuse_reply_lock, (fuse_req_t req, const struct flock *lock), (req, lock))
FINESSE_UNEXPECTED_REPLY(fuse_reply_bmap, (fuse_req_t req, uint64_t idx), (req, idx))
FINESSE_UNEXPECTED_REPLY(fuse_reply_poll, (fuse_req_t req, unsigned revents), (req, revents))
FINESSE_UNEXPECTED_REPLY(fuse_reply_lseek, (fuse_req_t req, off_t off), (req, off))
FINESSE_UNEXPECTED_REPLY(fuse_reply_ioctl,
                         (fuse_req_t req, int result, const void *buf, size_t size),
                         (req, result, buf, size))

EXPORT const struct fuse_ctx *fuse_req_ctx(fuse_req_t req) {
  if (auto *s = as_synthetic(req)) return &s->ctx;
  return REAL(fuse_req_ctx)(req);
}

EXPORT void *fuse_req_userdata(fuse_req_t req) {
  if (as_synthetic(req)) return ext().fs.userdata;
  return REAL(fuse_req_userdata)(req);
}

EXPORT int fuse_req_getgroups(fuse_req_t req, int size, gid_t list[]) {
  if (auto *s = as_synthetic(req)) {
    int n = s->groups ? static_cast<int>(s->groups->size()) : 0;
    for (int i = 0; i < n && i < size; i++) list[i] = (*s->groups)[i];
    return n;
  }
  return REAL(fuse_req_getgroups)(req, size, list);
}

EXPORT void fuse_req_interrupt_func(fuse_req_t req, fuse_interrupt_func_t func, void *data) {
  if (as_synthetic(req)) return;
  REAL(fuse_req_interrupt_func)(req, func, data);
}

EXPORT int fuse_req_interrupted(fuse_req_t req) {
  if (as_synthetic(req)) return 0;
  return REAL(fuse_req_interrupted)(req);
}

// A readdirplus entry gives the kernel a lookup on the inode, as a lookup reply does.
EXPORT size_t fuse_add_direntry_plus(fuse_req_t req, char *buf, size_t bufsize, const char *name,
                                     const struct fuse_entry_param *e, off_t off) {
  size_t n = REAL(fuse_add_direntry_plus)(req, buf, bufsize, name, e, off);
  if (!as_synthetic(req) && buf != nullptr && n <= bufsize && e != nullptr && e->ino != 0 &&
      strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
    ext().kernel.note_entry(*e);
    const auto &er = finesse::server::entry_request();
    if (er.req == req && er.name == nullptr)
      ext().cache.note_kernel_entry(er.parent, name, *e, er.gen, finesse::now_ns());
  }
  return n;
}
