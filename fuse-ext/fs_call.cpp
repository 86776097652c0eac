#include "fs_call.h"

#include <string.h>

#include <cerrno>

#include "fs_state.h"
#include "synthetic_req.h"
#include "wire.h"

namespace finesse::server {

namespace {

// One synthetic request for the duration of one file-system call.
class Call {
 public:
  explicit Call(const CallCtx *c) : req_(acquire_req()) {
    if (req_ == nullptr || c == nullptr) return;
    req_->ctx.uid = c->creds->uid;
    req_->ctx.gid = c->creds->gid;
    req_->ctx.pid = c->creds->pid;
    req_->ctx.umask = c->umask;
    req_->groups = &c->creds->groups;
  }
  ~Call() {
    if (req_ != nullptr) release_req(req_);
  }
  bool ok() const { return req_ != nullptr; }
  fuse_req_t req() const { return to_fuse_req(req_); }
  SyntheticReq *r() const { return req_; }
  // Waits for the reply; returns 0 or -errno.
  int finish() {
    wait_reply(req_);
    return req_->kind == ReplyKind::kErr && req_->err != 0 ? -req_->err : 0;
  }

 private:
  SyntheticReq *req_;
};

const fuse_lowlevel_ops &ops() { return fs_state().ops; }

}  // namespace

#define FINESSE_CALL(op_field, ...)                 \
  if (ops().op_field == nullptr) return -ENOSYS;    \
  Call call(&c);                                    \
  if (!call.ok()) return wire::kFallback;           \
  {                                                 \
    OpGuard guard;                                  \
    ops().op_field(call.req(), __VA_ARGS__);        \
  }                                                 \
  int rc = call.finish();                           \
  if (rc != 0) return rc;

namespace {
int entry_result(Call &call, fuse_entry_param *e) {
  if (call.r()->kind != ReplyKind::kEntry) return -EIO;
  *e = call.r()->entry;
  return 0;
}
}  // namespace

int fs_lookup(const CallCtx &c, fuse_ino_t parent, const char *name, fuse_entry_param *e) {
  FINESSE_CALL(lookup, parent, name);
  return entry_result(call, e);
}

int fs_getattr(const CallCtx &c, fuse_ino_t ino, struct stat *attr, double *timeout) {
  FINESSE_CALL(getattr, ino, nullptr);
  if (call.r()->kind != ReplyKind::kAttr) return -EIO;
  *attr = call.r()->attr;
  *timeout = call.r()->attr_timeout;
  return 0;
}

int fs_setattr(const CallCtx &c, fuse_ino_t ino, struct stat *in, int to_set, struct stat *out,
               double *timeout) {
  FINESSE_CALL(setattr, ino, in, to_set, nullptr);
  if (call.r()->kind != ReplyKind::kAttr) return -EIO;
  *out = call.r()->attr;
  *timeout = call.r()->attr_timeout;
  return 0;
}

int fs_access(const CallCtx &c, fuse_ino_t ino, int mask) {
  FINESSE_CALL(access, ino, mask);
  return 0;
}

int fs_unlink(const CallCtx &c, fuse_ino_t parent, const char *name) {
  FINESSE_CALL(unlink, parent, name);
  return 0;
}

int fs_rmdir(const CallCtx &c, fuse_ino_t parent, const char *name) {
  FINESSE_CALL(rmdir, parent, name);
  return 0;
}

int fs_mkdir(const CallCtx &c, fuse_ino_t parent, const char *name, mode_t mode,
             fuse_entry_param *e) {
  FINESSE_CALL(mkdir, parent, name, mode);
  return entry_result(call, e);
}

int fs_symlink(const CallCtx &c, const char *target, fuse_ino_t parent, const char *name,
               fuse_entry_param *e) {
  FINESSE_CALL(symlink, target, parent, name);
  return entry_result(call, e);
}

int fs_link(const CallCtx &c, fuse_ino_t ino, fuse_ino_t newparent, const char *newname,
            fuse_entry_param *e) {
  FINESSE_CALL(link, ino, newparent, newname);
  return entry_result(call, e);
}

int fs_rename(const CallCtx &c, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
              const char *newname, unsigned flags) {
  FINESSE_CALL(rename, parent, name, newparent, newname, flags);
  return 0;
}

int fs_readlink(const CallCtx &c, fuse_ino_t ino, char *buf, size_t cap, size_t *len) {
  if (ops().readlink == nullptr) return -ENOSYS;
  Call call(&c);
  if (!call.ok()) return wire::kFallback;
  call.r()->buf = buf;
  call.r()->buf_cap = cap;
  {
    OpGuard guard;
    ops().readlink(call.req(), ino);
  }
  int rc = call.finish();
  if (rc != 0) return rc;
  if (call.r()->kind != ReplyKind::kReadlink) return -EIO;
  *len = call.r()->buf_len;
  return 0;
}

int fs_statfs(const CallCtx &c, fuse_ino_t ino, struct statvfs *st) {
  FINESSE_CALL(statfs, ino);
  if (call.r()->kind != ReplyKind::kStatfs) return -EIO;
  *st = call.r()->stv;
  return 0;
}

namespace {
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
}  // namespace

int fs_getxattr(const CallCtx &c, fuse_ino_t ino, const char *name, size_t size, char *buf,
                size_t *len) {
  if (ops().getxattr == nullptr) return -ENOSYS;
  Call call(&c);
  if (!call.ok()) return wire::kFallback;
  call.r()->buf = buf;
  call.r()->buf_cap = size;
  {
    OpGuard guard;
    ops().getxattr(call.req(), ino, name, size);
  }
  int rc = call.finish();
  if (rc != 0) return rc;
  return xattr_result(call, size, len);
}

int fs_listxattr(const CallCtx &c, fuse_ino_t ino, size_t size, char *buf, size_t *len) {
  if (ops().listxattr == nullptr) return -ENOSYS;
  Call call(&c);
  if (!call.ok()) return wire::kFallback;
  call.r()->buf = buf;
  call.r()->buf_cap = size;
  {
    OpGuard guard;
    ops().listxattr(call.req(), ino, size);
  }
  int rc = call.finish();
  if (rc != 0) return rc;
  return xattr_result(call, size, len);
}

void fs_forget(fuse_ino_t ino, uint64_t nlookup) {
  if (ops().forget == nullptr) return;
  Call call(nullptr);
  if (!call.ok()) return;  // pool exhausted: the lookup stays held (never double-freed)
  {
    OpGuard guard;
    ops().forget(call.req(), ino, nlookup);
  }
  call.finish();
}

}  // namespace finesse::server
