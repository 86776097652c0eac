#include "fs_call.h"

#include <string.h>

#include <cerrno>

#include "fs_state.h"
#include "result.h"
#include "synthetic_req.h"
#include "wire.h"

namespace finesse::server {

namespace {

// One synthetic request for the duration of one file-system call.
class Call {
 public:
  Call(FsState &fs, const CallCtx *c) : fs_(fs), req_(fs.reqs.acquire()) {
    if (req_ == nullptr || c == nullptr) return;
    req_->ctx.uid = c->creds->uid;
    req_->ctx.gid = c->creds->gid;
    req_->ctx.pid = c->creds->pid;
    req_->ctx.umask = c->umask;
    req_->groups = &c->creds->groups;
  }
  ~Call() {
    if (req_ != nullptr) fs_.reqs.release(req_);
  }
  FsState &fs() const { return fs_; }
  bool ok() const { return req_ != nullptr; }
  fuse_req_t req() const { return to_fuse_req(req_); }
  // Where a reply with data (readlink, xattrs) goes.
  void set_buffer(char *buf, size_t cap) {
    if (req_ == nullptr) return;
    req_->buf = buf;
    req_->buf_cap = cap;
  }
  SyntheticReq *r() const { return req_; }
  // Waits for the reply; returns 0 or -errno.
  int finish() {
    wait_reply(req_);
    return req_->kind == ReplyKind::kErr && req_->err != 0 ? -req_->err : 0;
  }

 private:
  FsState &fs_;
  SyntheticReq *req_;
};

// Calls the file system's own op `field` with call's synthetic request and waits for the
// reply. 0 (the reply is in call.r()), -errno, -ENOSYS for an op the file system lacks, or
// to the kernel when no synthetic request was free.
template <typename Fn, typename... Args>
Result run(Call &call, Fn fuse_lowlevel_ops::*field, Args... args) {
  Fn fn = call.fs().ops.*field;
  if (fn == nullptr) return -ENOSYS;
  if (!call.ok()) return kToKernel;
  call.fs().calls.fetch_add(1, std::memory_order_relaxed);
  {
    OpGuard guard(call.fs());
    fn(call.req(), args...);
  }
  return call.finish();
}

int entry_result(Call &call, fuse_entry_param *e) {
  if (call.r()->kind != ReplyKind::kEntry) return -EIO;
  *e = call.r()->entry;
  return 0;
}

int attr_result(Call &call, struct stat *attr, double *timeout) {
  if (call.r()->kind != ReplyKind::kAttr) return -EIO;
  *attr = call.r()->attr;
  *timeout = call.r()->attr_timeout;
  return 0;
}

int xattr_result(Call &call, size_t size, size_t *len) {
  if (size == 0) {
    if (call.r()->kind != ReplyKind::kXattr) return -EIO;
    *len = call.r()->xattr_size;
    return 0;
  }
  if (call.r()->kind != ReplyKind::kBuf) return -EIO;
  *len = call.r()->buf_len;
  return 0;
}

using Ops = fuse_lowlevel_ops;

}  // namespace

Result fs_lookup(const CallCtx &c, fuse_ino_t parent, const char *name, fuse_entry_param *e) {
  Call call(*c.fs, &c);
  if (Result r = run(call, &Ops::lookup, parent, name); !r.ok()) return r;
  return entry_result(call, e);
}

Result fs_getattr(const CallCtx &c, fuse_ino_t ino, struct stat *attr, double *timeout) {
  Call call(*c.fs, &c);
  if (Result r = run(call, &Ops::getattr, ino, nullptr); !r.ok()) return r;
  return attr_result(call, attr, timeout);
}

Result fs_setattr(const CallCtx &c, fuse_ino_t ino, struct stat *in, int to_set, struct stat *out,
                  double *timeout) {
  Call call(*c.fs, &c);
  if (Result r = run(call, &Ops::setattr, ino, in, to_set, nullptr); !r.ok()) return r;
  return attr_result(call, out, timeout);
}

Result fs_access(const CallCtx &c, fuse_ino_t ino, int mask) {
  Call call(*c.fs, &c);
  return run(call, &Ops::access, ino, mask);
}

Result fs_unlink(const CallCtx &c, fuse_ino_t parent, const char *name) {
  Call call(*c.fs, &c);
  return run(call, &Ops::unlink, parent, name);
}

Result fs_rmdir(const CallCtx &c, fuse_ino_t parent, const char *name) {
  Call call(*c.fs, &c);
  return run(call, &Ops::rmdir, parent, name);
}

Result fs_mkdir(const CallCtx &c, fuse_ino_t parent, const char *name, mode_t mode,
                fuse_entry_param *e) {
  Call call(*c.fs, &c);
  if (Result r = run(call, &Ops::mkdir, parent, name, mode); !r.ok()) return r;
  return entry_result(call, e);
}

Result fs_symlink(const CallCtx &c, const char *target, fuse_ino_t parent, const char *name,
                  fuse_entry_param *e) {
  Call call(*c.fs, &c);
  if (Result r = run(call, &Ops::symlink, target, parent, name); !r.ok()) return r;
  return entry_result(call, e);
}

Result fs_link(const CallCtx &c, fuse_ino_t ino, fuse_ino_t newparent, const char *newname,
               fuse_entry_param *e) {
  Call call(*c.fs, &c);
  if (Result r = run(call, &Ops::link, ino, newparent, newname); !r.ok()) return r;
  return entry_result(call, e);
}

Result fs_rename(const CallCtx &c, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                 const char *newname, unsigned flags) {
  Call call(*c.fs, &c);
  return run(call, &Ops::rename, parent, name, newparent, newname, flags);
}

Result fs_readlink(const CallCtx &c, fuse_ino_t ino, char *buf, size_t cap, size_t *len) {
  Call call(*c.fs, &c);
  call.set_buffer(buf, cap);
  if (Result r = run(call, &Ops::readlink, ino); !r.ok()) return r;
  if (call.r()->kind != ReplyKind::kReadlink) return -EIO;
  *len = call.r()->buf_len;
  return 0;
}

Result fs_statfs(const CallCtx &c, fuse_ino_t ino, struct statvfs *st) {
  Call call(*c.fs, &c);
  if (Result r = run(call, &Ops::statfs, ino); !r.ok()) return r;
  if (call.r()->kind != ReplyKind::kStatfs) return -EIO;
  *st = call.r()->stv;
  return 0;
}

Result fs_getxattr(const CallCtx &c, fuse_ino_t ino, const char *name, size_t size, char *buf,
                   size_t *len) {
  Call call(*c.fs, &c);
  call.set_buffer(buf, size);
  if (Result r = run(call, &Ops::getxattr, ino, name, size); !r.ok()) return r;
  return xattr_result(call, size, len);
}

Result fs_listxattr(const CallCtx &c, fuse_ino_t ino, size_t size, char *buf, size_t *len) {
  Call call(*c.fs, &c);
  call.set_buffer(buf, size);
  if (Result r = run(call, &Ops::listxattr, ino, size); !r.ok()) return r;
  return xattr_result(call, size, len);
}

void fs_forget(FsState &fs, fuse_ino_t ino, uint64_t nlookup) {
  if (fs.ops.forget == nullptr) return;
  Call call(fs, nullptr);
  // (No request free: the lookup stays held, never double-freed.)
  Result ignored = run(call, &Ops::forget, ino, nlookup);
  (void)ignored;
}

Result fs_opendir(const CallCtx &c, fuse_ino_t ino, fuse_file_info *fi) {
  if (c.fs->ops.opendir == nullptr) {
    fi->fh = 0;
    return 0;
  }
  Call call(*c.fs, &c);
  if (Result r = run(call, &Ops::opendir, ino, fi); !r.ok()) return r;
  if (call.r()->kind != ReplyKind::kOpen) return -EIO;
  *fi = call.r()->fi;
  return 0;
}

Result fs_readdir(const CallCtx &c, fuse_ino_t ino, size_t size, off_t off, fuse_file_info *fi,
                  bool plus, char *buf, size_t cap, size_t *len) {
  Call call(*c.fs, &c);
  call.set_buffer(buf, cap);
  Result r = plus ? run(call, &Ops::readdirplus, ino, size, off, fi)
                  : run(call, &Ops::readdir, ino, size, off, fi);
  if (!r.ok()) return r;
  if (call.r()->kind != ReplyKind::kBuf || call.r()->buf_len > size) return -EIO;
  *len = call.r()->buf_len;
  return 0;
}

void fs_releasedir(FsState &fs, fuse_ino_t ino, fuse_file_info *fi) {
  if (fs.ops.releasedir == nullptr) return;
  Call call(fs, nullptr);
  Result ignored = run(call, &Ops::releasedir, ino, fi);
  (void)ignored;
}

Result fs_open(FsState &fs, fuse_ino_t ino, fuse_file_info *fi) {
  if (fs.ops.open == nullptr) {  // libfuse's answer without an open op: handle 0
    fi->fh = 0;
    return 0;
  }
  Call call(fs, nullptr);
  if (Result r = run(call, &Ops::open, ino, fi); !r.ok()) return r;
  if (call.r()->kind != ReplyKind::kOpen) return -EIO;
  *fi = call.r()->fi;
  return 0;
}

void fs_close(FsState &fs, fuse_ino_t ino, fuse_file_info *fi, bool flush) {
  if (flush && fs.ops.flush != nullptr) {
    Call call(fs, nullptr);
    Result ignored = run(call, &Ops::flush, ino, fi);  // nobody is left to tell of an error
    (void)ignored;
  }
  if (fs.ops.release == nullptr) return;
  Call call(fs, nullptr);
  Result ignored = run(call, &Ops::release, ino, fi);
  (void)ignored;
}

}  // namespace finesse::server
