#include "fake_fs.h"

#include <string.h>
#include <sys/stat.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <string>

#include "extension.h"
#include "synthetic_req.h"

namespace finesse::fuzz {

namespace {

server::SyntheticReq *as_synthetic(fuse_req_t req) {
  return server::extension().fs.reqs.find(req);
}

using server::complete;
using server::ReplyKind;

struct Node {
  fuse_ino_t ino;
  mode_t mode;
  uid_t uid;
  std::map<std::string, fuse_ino_t> children;
};

// root(1): a/ (2, 0755), b (3, 0644, owned by 1000), l -> a (4), s/ (5, 01777), p/ (6, 0700)
std::map<fuse_ino_t, Node> g_nodes = {
    {1, {1, S_IFDIR | 0755, 0, {{"a", 2}, {"b", 3}, {"l", 4}, {"s", 5}, {"p", 6}}}},
    {2, {2, S_IFDIR | 0755, 0, {{"x", 3}}}},
    {3, {3, S_IFREG | 0644, 1000, {}}},
    {4, {4, S_IFLNK | 0777, 0, {}}},
    {5, {5, S_IFDIR | 01777, 0, {{"y", 3}}}},
    {6, {6, S_IFDIR | 0700, 0, {}}},
};
std::mutex g_mu;

struct stat attr_of(const Node &n) {
  struct stat st {};
  st.st_ino = n.ino;
  st.st_mode = n.mode;
  st.st_uid = n.uid;
  st.st_nlink = 1;
  return st;
}

void reply_entry(fuse_req_t req, fuse_ino_t ino) {
  auto *s = as_synthetic(req);
  s->entry = fuse_entry_param{};
  s->entry.ino = ino;
  s->entry.attr = attr_of(g_nodes[ino]);
  s->entry.entry_timeout = s->entry.attr_timeout = (ino % 2) ? 1.0 : 0.0;
  complete(s, ReplyKind::kEntry, 0);
}

void err(fuse_req_t req, int e) { complete(as_synthetic(req), ReplyKind::kErr, e); }

void lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
  std::lock_guard<std::mutex> g(g_mu);
  auto p = g_nodes.find(parent);
  if (p == g_nodes.end()) return err(req, ENOENT);
  auto c = p->second.children.find(name);
  if (c == p->second.children.end()) return err(req, strlen(name) > 255 ? ENAMETOOLONG : ENOENT);
  reply_entry(req, c->second);
}

void forget(fuse_req_t req, fuse_ino_t, uint64_t) { complete(as_synthetic(req), ReplyKind::kNone, 0); }

void getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info *) {
  std::lock_guard<std::mutex> g(g_mu);
  auto n = g_nodes.find(ino);
  if (n == g_nodes.end()) return err(req, ENOENT);
  auto *s = as_synthetic(req);
  s->attr = attr_of(n->second);
  s->attr_timeout = 0.5;
  complete(s, ReplyKind::kAttr, 0);
}

void setattr(fuse_req_t req, fuse_ino_t ino, struct stat *, int, fuse_file_info *fi) {
  getattr(req, ino, fi);
}

// Mutations succeed without changing the tree, so that every input explores the same tree.
void ok(fuse_req_t req) { err(req, 0); }
void unlink_op(fuse_req_t req, fuse_ino_t, const char *) { ok(req); }
void mkdir_op(fuse_req_t req, fuse_ino_t, const char *, mode_t) {
  std::lock_guard<std::mutex> g(g_mu);
  reply_entry(req, 2);
}
void symlink_op(fuse_req_t req, const char *, fuse_ino_t, const char *) {
  std::lock_guard<std::mutex> g(g_mu);
  reply_entry(req, 4);
}
void link_op(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char *) {
  std::lock_guard<std::mutex> g(g_mu);
  reply_entry(req, 3);
}
void rename_op(fuse_req_t req, fuse_ino_t, const char *, fuse_ino_t, const char *, unsigned) {
  ok(req);
}
void readlink_op(fuse_req_t req, fuse_ino_t) {
  auto *s = as_synthetic(req);
  const char target[] = "a";
  s->buf_len = 1;
  if (s->buf) memcpy(s->buf, target, std::min<size_t>(1, s->buf_cap));
  complete(s, ReplyKind::kReadlink, 0);
}
void statfs_op(fuse_req_t req, fuse_ino_t) {
  auto *s = as_synthetic(req);
  s->stv = {};
  s->stv.f_namemax = 255;
  complete(s, ReplyKind::kStatfs, 0);
}
void getxattr_op(fuse_req_t req, fuse_ino_t, const char *, size_t size) {
  auto *s = as_synthetic(req);
  if (size == 0) {
    s->xattr_size = 3;
    return complete(s, ReplyKind::kXattr, 0);
  }
  if (size < 3) return err(req, ERANGE);
  s->buf_len = 3;
  memcpy(s->buf, "val", std::min<size_t>(3, s->buf_cap));
  complete(s, ReplyKind::kBuf, 0);
}
void listxattr_op(fuse_req_t req, fuse_ino_t ino, size_t size) { getxattr_op(req, ino, "", size); }
void access_op(fuse_req_t req, fuse_ino_t, int mask) { err(req, mask & 2 ? EACCES : 0); }

}  // namespace

void install_fake_fs() {
  auto &st = server::extension().fs;
  if (st.initialized) return;
  fuse_lowlevel_ops &o = st.ops;
  o.lookup = lookup;
  o.forget = forget;
  o.getattr = getattr;
  o.setattr = setattr;
  o.unlink = unlink_op;
  o.rmdir = unlink_op;
  o.mkdir = mkdir_op;
  o.symlink = symlink_op;
  o.link = link_op;
  o.rename = rename_op;
  o.readlink = readlink_op;
  o.statfs = statfs_op;
  o.getxattr = getxattr_op;
  o.listxattr = listxattr_op;
  o.access = access_op;
  st.initialized = true;
}

}  // namespace finesse::fuzz
