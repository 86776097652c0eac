#include "op_trampolines.h"

#include <fcntl.h>
#include <string.h>

#include <vector>

#include "control.h"
#include "extension.h"
#include "fs_call.h"
#include "fs_state.h"
#include "kernel_view.h"

namespace finesse::server {

namespace {

// libfuse calls these with no context of ours: the extension's one root.
Extension &ext() {
  return extension();
}
FsState &st() {
  return extension().fs;
}

// Returns the cache's generation after it.
uint64_t drop(fuse_ino_t parent, const char *name, bool keep_kernel_entry = false) {
  std::vector<Forget> forgets;
  uint64_t gen = ext().cache.name_changed(parent, name, &forgets, keep_kernel_entry);
  // Return the lookups the server held on what was dropped (outside any OpGuard).
  for (const Forget &f : forgets) fs_forget(st(), f.ino, f.nlookup);
  return gen;
}

// Generic wrapper: serialise and count, nothing else.
template <typename Fn>
struct Plain;
template <typename... A>
struct Plain<void (*)(fuse_req_t, A...)> {
  template <void (*fuse_lowlevel_ops::*M)(fuse_req_t, A...)>
  static void call(fuse_req_t req, A... a) {
    ext().counters.kernel_ops++;
    OpGuard g(st());
    (st().ops.*M)(req, a...);
  }
};

void t_init(void *userdata, fuse_conn_info *conn) {
  if (st().ops.init) st().ops.init(userdata, conn);
  ext().handles.decide(conn, st().mountpoint.c_str());
  st().conn_want = conn->want;
  ext().kernel.note_proto_minor(conn->proto_minor);
  st().initialized.store(true, std::memory_order_release);
}

void t_destroy(void *userdata) {
  ext().server.stop();
  st().initialized.store(false);
  ext().handles.close_all();
  if (st().ops.destroy) st().ops.destroy(userdata);
}

// A kernel request that gives the kernel entries, from before the file system looks at the
// names until its reply went out (file systems that reply later, from another thread, are
// not covered).
class LookupInFlight {
 public:
  LookupInFlight(fuse_req_t req, fuse_ino_t parent, const char *name) {
    ext().kernel.lookup_started();
    if (ext().counters.clients_active.load(std::memory_order_relaxed) != 0)
      entry_request() = {req, parent, name, ext().cache.generation()};
  }
  ~LookupInFlight() {
    entry_request() = {};
    ext().kernel.lookup_done();
  }
  LookupInFlight(const LookupInFlight &) = delete;
  LookupInFlight &operator=(const LookupInFlight &) = delete;
};

void t_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  ext().counters.kernel_ops++;
  size_t plen = strlen(control::kChallengePrefix);
  if (parent == FUSE_ROOT_ID && strncmp(name, control::kChallengePrefix, plen) == 0)
    ext().challenges.note_lookup(req, name + plen);
  LookupInFlight in_flight(req, parent, name);
  OpGuard g(st());
  st().ops.lookup(req, parent, name);
}

void t_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info *fi) {
  ext().counters.kernel_ops++;
  LookupInFlight in_flight(req, ino, nullptr);
  OpGuard g(st());
  st().ops.readdirplus(req, ino, size, off, fi);
}

// The kernel's forgets: what a bypass request in progress uses with the kernel's lookup waits
// for its end (NodeCache::kernel_forgot; the server forgets it then).
void t_forget(fuse_req_t req, fuse_ino_t ino, uint64_t n) {
  ext().kernel.note_forget(ino, n);
  if (ext().handles.engaged()) ext().handles.forget(ino);
  uint64_t now = ext().cache.kernel_forgot(ino, n);
  if (now == 0) return fuse_reply_none(req);
  OpGuard g(st());
  st().ops.forget(req, ino, now);
}

void t_forget_multi(fuse_req_t req, size_t count, fuse_forget_data *f) {
  size_t kept = 0;
  for (size_t i = 0; i < count; i++) {
    ext().kernel.note_forget(f[i].ino, f[i].nlookup);
    if (ext().handles.engaged()) ext().handles.forget(f[i].ino);
    uint64_t now = ext().cache.kernel_forgot(f[i].ino, f[i].nlookup);
    if (now != 0) f[kept++] = {f[i].ino, now};
  }
  if (kept == 0) return fuse_reply_none(req);
  OpGuard g(st());
  st().ops.forget_multi(req, kept, f);
}

// A file request of the kernel in the no-open mode (kernel_handles.h) comes with handle 0:
// the file system gets the extension's own handle of the file instead, held for the call.
class KernelFile {
 public:
  KernelFile(fuse_ino_t ino, fuse_file_info *fi, bool write) : ino_(ino), fi_(fi) {
    if (!ext().handles.ours(fi)) return;
    // The kernel's request as it is (flags, lock owner, writepage), with the handle replaced.
    mine_ = *fi;
    int rc = ext().handles.get(ino, handle_flags(fi->flags, write), &mine_.fh);
    if (rc < 0) {
      err_ = -rc;
      return;
    }
    held_ = true;
    fi_ = &mine_;
  }
  ~KernelFile() {
    if (held_) ext().handles.put(ino_, mine_.fh);
  }
  KernelFile(const KernelFile &) = delete;
  KernelFile &operator=(const KernelFile &) = delete;
  fuse_file_info *fi() const { return fi_; }
  int err() const { return err_; }  // the open failed: reply this errno

 private:
  fuse_ino_t ino_;
  fuse_file_info *fi_;
  fuse_file_info mine_{};
  bool held_ = false;
  int err_ = 0;
};

// Whether the kernel opened the file for writing.
bool writable(const fuse_file_info *fi) {
  return (fi->flags & O_ACCMODE) != O_RDONLY;
}

// A kernel-path mutation: what it changes is invalidated before the call (a racing bypass
// lookup must not be cached) and after it (the file system changed); unless it changes
// nothing after all (changes false), its reply tells the clients (ChangeReplies).
template <typename Invalidate, typename Call>
void mutation(fuse_req_t req, Invalidate invalidate, Call call, bool changes = true) {
  ext().counters.kernel_ops++;
  if (changes) ext().change_replies.expect(req);
  invalidate();
  {
    OpGuard g(st());
    call();
  }
  invalidate();
}

// A kernel-path mutation that gives the kernel a new entry (create, mkdir, mknod, symlink),
// invalidated as any mutation; while bypass clients are connected, the entry its reply gives
// the kernel is recorded as a lookup's is (fuse_reply_entry/_create: NodeCache::
// note_kernel_entry, kept only if nothing moved the cache's generation since the
// invalidation before the call), so that a bypassed stat or unlink of the name needs no
// lookup of the server's own. The invalidation after the call (a racing bypass lookup may
// have cached the name as missing) keeps that record: any later change of the name through
// either path drops it.
template <typename Call>
void entry_mutation(fuse_req_t req, fuse_ino_t parent, const char *name, Call call) {
  ext().counters.kernel_ops++;
  ext().change_replies.expect(req);
  const uint64_t gen = drop(parent, name);
  if (ext().counters.clients_active.load(std::memory_order_relaxed) != 0)
    entry_request() = {req, parent, name, gen};
  {
    OpGuard g(st());
    call();
  }
  entry_request() = {};
  drop(parent, name, /*keep_kernel_entry=*/true);
}

void t_unlink(fuse_req_t req, fuse_ino_t parent, const char *name) {
  mutation(
      req, [&] { drop(parent, name); }, [&] { st().ops.unlink(req, parent, name); });
}
void t_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name) {
  mutation(
      req, [&] { drop(parent, name); }, [&] { st().ops.rmdir(req, parent, name); });
}
void t_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  entry_mutation(req, parent, name, [&] { st().ops.mkdir(req, parent, name, mode); });
}
void t_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  entry_mutation(req, parent, name, [&] { st().ops.mknod(req, parent, name, mode, rdev); });
}
void t_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name) {
  entry_mutation(req, parent, name, [&] { st().ops.symlink(req, link, parent, name); });
}
void t_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
              fuse_file_info *fi) {
  // (Its writable handle is counted by fuse_reply_create, before the kernel can release it.)
  entry_mutation(req, parent, name, [&] { st().ops.create(req, parent, name, mode, fi); });
  if (ext().handles.engaged())
    ext().handles.settle([](fuse_ino_t ino) { return ext().kernel.known(ino); });
}
void t_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
  mutation(
      req,
      [&] {
        drop(newparent, newname);
        ext().cache.invalidate_attr(ino);
      },
      [&] { st().ops.link(req, ino, newparent, newname); });
}
void t_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
              const char *newname, unsigned flags) {
  mutation(
      req,
      [&] {
        drop(parent, name);
        drop(newparent, newname);
      },
      [&] { st().ops.rename(req, parent, name, newparent, newname, flags); });
}

// Operations that change an inode's attributes (size, times, mode, owner, ctime).
void attr_changed(fuse_ino_t ino) {
  ext().cache.invalidate_attr(ino);
}

void t_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
               fuse_file_info *fi) {
  // (An ftruncate in the no-open mode: by inode, as a truncate.)
  if (ext().handles.ours(fi)) fi = nullptr;
  mutation(
      req, [&] { attr_changed(ino); }, [&] { st().ops.setattr(req, ino, attr, to_set, fi); });
}
void t_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info *fi) {
  ext().counters.kernel_ops++;
  if (ext().handles.ours(fi)) fi = nullptr;
  OpGuard g(st());
  st().ops.getattr(req, ino, fi);
}
// Writes through the kernel path: what the file system then holds may change again when
// the writing handle is released (OpenWriters).
void written(fuse_ino_t ino) {
  ext().writers.wrote(ino);
  attr_changed(ino);
}

// A file request that writes: call(the file system's fi) with the handle held, as a
// kernel-path mutation of the file's data.
template <typename Call>
void on_written_file(fuse_req_t req, fuse_ino_t ino, fuse_file_info *fi, Call call) {
  KernelFile f(ino, fi, true);
  if (f.err()) return (void)fuse_reply_err(req, f.err());
  mutation(
      req, [&] { written(ino); }, [&] { call(f.fi()); });
}
void t_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
             fuse_file_info *fi) {
  on_written_file(req, ino, fi,
                  [&](fuse_file_info *k) { st().ops.write(req, ino, buf, size, off, k); });
}
void t_write_buf(fuse_req_t req, fuse_ino_t ino, fuse_bufvec *bufv, off_t off,
                 fuse_file_info *fi) {
  on_written_file(req, ino, fi,
                  [&](fuse_file_info *k) { st().ops.write_buf(req, ino, bufv, off, k); });
}
// A file request that changes nothing: call(the file system's fi) with the handle held.
template <typename Call>
void on_kernel_file(fuse_req_t req, fuse_ino_t ino, fuse_file_info *fi, bool write, Call call) {
  ext().counters.kernel_ops++;
  KernelFile f(ino, fi, write);
  if (f.err()) return (void)fuse_reply_err(req, f.err());
  OpGuard g(st());
  call(f.fi());
}
void t_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info *fi) {
  on_kernel_file(req, ino, fi, false,
                 [&](fuse_file_info *k) { st().ops.read(req, ino, size, off, k); });
}
// The no-open mode's handles are the extension's: the kernel's flush of handle 0 is answered
// ENOSYS, after which the kernel sends no FLUSH at all (no_flush); the handle is flushed when
// the extension closes it.
void t_flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info *fi) {
  ext().counters.kernel_ops++;
  if (ext().handles.ours(fi)) return (void)fuse_reply_err(req, ENOSYS);
  OpGuard g(st());
  st().ops.flush(req, ino, fi);
}
void t_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info *fi) {
  on_kernel_file(req, ino, fi, fi != nullptr && writable(fi),
                 [&](fuse_file_info *k) { st().ops.fsync(req, ino, datasync, k); });
}
void t_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info *fi) {
  on_kernel_file(req, ino, fi, false,
                 [&](fuse_file_info *k) { st().ops.lseek(req, ino, off, whence, k); });
}
void t_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in, fuse_file_info *fi_in,
                       fuse_ino_t ino_out, off_t off_out, fuse_file_info *fi_out, size_t len,
                       int flags) {
  KernelFile in(ino_in, fi_in, false);
  if (in.err()) return (void)fuse_reply_err(req, in.err());
  KernelFile out(ino_out, fi_out, true);
  if (out.err()) return (void)fuse_reply_err(req, out.err());
  mutation(
      req, [&] { written(ino_out); },
      [&] {
        st().ops.copy_file_range(req, ino_in, off_in, in.fi(), ino_out, off_out, out.fi(), len,
                                 flags);
      });
}
void t_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info *fi) {
  // The no-open mode: the kernel learns from this answer to send no OPEN again.
  if (ext().handles.engaged()) {
    ext().counters.kernel_ops++;
    return (void)fuse_reply_err(req, ENOSYS);
  }
  if (writable(fi)) ext().writers.opened(ino);
  mutation(
      req,
      [&] {
        if (fi->flags & O_TRUNC) attr_changed(ino);
      },
      [&] { st().ops.open(req, ino, fi); }, (fi->flags & O_TRUNC) != 0);
}
void t_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
                int flags) {
  mutation(
      req, [&] { attr_changed(ino); },
      [&] { st().ops.setxattr(req, ino, name, value, size, flags); });
}
void t_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name) {
  mutation(
      req, [&] { attr_changed(ino); }, [&] { st().ops.removexattr(req, ino, name); });
}
void t_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
                 fuse_file_info *fi) {
  on_written_file(req, ino, fi,
                  [&](fuse_file_info *k) { st().ops.fallocate(req, ino, mode, off, len, k); });
}
void t_release(fuse_req_t req, fuse_ino_t ino, fuse_file_info *fi) {
  // (A file created before the kernel learnt no_open: its handle is the extension's.)
  if (ext().handles.ours(fi)) {
    ext().counters.kernel_ops++;
    return (void)fuse_reply_err(req, 0);
  }
  // A file written through the kernel path since its writable handles were opened may change
  // on release (clients hear of it: ChangeReplies). Its attributes are kept as the kernel
  // keeps its own (fuse_flush invalidates them only with the writeback cache, whose dirty
  // pages give the file its final size and times then; release not at all): a stat after
  // the close needs no call of the file system on either path.
  const bool written = writable(fi) && ext().writers.released(ino);
  const bool attrs_may_change = written && (st().conn_want & FUSE_CAP_WRITEBACK_CACHE);
  mutation(
      req,
      [&] {
        if (attrs_may_change) attr_changed(ino);
      },
      [&] { st().ops.release(req, ino, fi); }, written);
}

// The names the kernel asks the file system for are the ones the bypass may answer.
void t_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  ext().counters.kernel_ops++;
  if (ext().kernel.note_xattr_request(name)) ext().server.tell_xattrs_forwarded();
  OpGuard g(st());
  st().ops.getxattr(req, ino, name, size);
}

}  // namespace

#define FINESSE_WRAP(field, fn) \
  if (o.field) w.field = fn;
#define FINESSE_PLAIN(field)                                                            \
  if (o.field)                                                                          \
    w.field = Plain<decltype(fuse_lowlevel_ops::field)>::call<&fuse_lowlevel_ops::field>;

void build_trampolines() {
  const fuse_lowlevel_ops &o = st().ops;
  fuse_lowlevel_ops &w = st().wrapped;
  memset(&w, 0, sizeof(w));
  w.init = t_init;
  w.destroy = t_destroy;
  FINESSE_WRAP(lookup, t_lookup);
  FINESSE_WRAP(forget, t_forget);
  // Without forget_multi libfuse splits batches into forget calls: t_forget sees them.
  FINESSE_WRAP(forget_multi, t_forget_multi);
  FINESSE_WRAP(unlink, t_unlink);
  FINESSE_WRAP(rmdir, t_rmdir);
  FINESSE_WRAP(mkdir, t_mkdir);
  FINESSE_WRAP(mknod, t_mknod);
  FINESSE_WRAP(symlink, t_symlink);
  FINESSE_WRAP(create, t_create);
  FINESSE_WRAP(link, t_link);
  FINESSE_WRAP(rename, t_rename);
  FINESSE_WRAP(setattr, t_setattr);
  FINESSE_WRAP(write, t_write);
  FINESSE_WRAP(write_buf, t_write_buf);
  FINESSE_WRAP(open, t_open);
  FINESSE_WRAP(setxattr, t_setxattr);
  FINESSE_WRAP(removexattr, t_removexattr);
  FINESSE_WRAP(fallocate, t_fallocate);
  FINESSE_WRAP(release, t_release);
  FINESSE_WRAP(getattr, t_getattr);
  FINESSE_PLAIN(readlink);
  FINESSE_WRAP(read, t_read);
  FINESSE_WRAP(flush, t_flush);
  FINESSE_WRAP(fsync, t_fsync);
  FINESSE_PLAIN(opendir);
  FINESSE_PLAIN(readdir);
  FINESSE_PLAIN(releasedir);
  FINESSE_PLAIN(fsyncdir);
  FINESSE_PLAIN(statfs);
  FINESSE_WRAP(getxattr, t_getxattr);
  FINESSE_PLAIN(listxattr);
  FINESSE_PLAIN(access);
  FINESSE_PLAIN(getlk);
  FINESSE_PLAIN(setlk);
  FINESSE_PLAIN(bmap);
  FINESSE_PLAIN(ioctl);
  FINESSE_PLAIN(poll);
  FINESSE_PLAIN(retrieve_reply);
  FINESSE_PLAIN(flock);
  FINESSE_WRAP(readdirplus, t_readdirplus);
  FINESSE_WRAP(copy_file_range, t_copy_file_range);
  FINESSE_WRAP(lseek, t_lseek);
}

}  // namespace finesse::server
