#include "permission_matrix.h"

#include <fcntl.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "finesse/finesse.h"

namespace finesse::testing::matrix {

const std::vector<Caller> &callers() {
  static const std::vector<Caller> all = {
      {Role::kOwner, kOwnerUid, 1000, {}, kOwnerUid},
      {Role::kGroup, 1002, 1002, {kGroupGid}, 1002},
      {Role::kPrimaryGroup, 1004, kGroupGid, {}, 1004},
      {Role::kOther, 1003, 1003, {}, 1003},
      {Role::kRoot, 0, 0, {}, 0},
      {Role::kSetuidOwner, 1003, 1003, {}, kOwnerUid},
  };
  return all;
}

const char *role_name(Role r) {
  switch (r) {
    case Role::kOwner:
      return "owner";
    case Role::kGroup:
      return "group";
    case Role::kPrimaryGroup:
      return "primary-group";
    case Role::kOther:
      return "other";
    case Role::kRoot:
      return "root";
    case Role::kSetuidOwner:
      return "setuid-owner";
  }
  return "?";
}

const char *op_name(Op op) {
  static const char *names[] = {"stat",
                                "access(R)",
                                "access(W)",
                                "access(X)",
                                "unlink",
                                "rmdir",
                                "mkdir",
                                "rename(same dir)",
                                "rename(cross dir)",
                                "chmod",
                                "chown(self)",
                                "chown(other)",
                                "chgrp(own group)",
                                "truncate",
                                "utimensat(NULL)",
                                "chgrp(file's group)",
                                "chgrp(foreign)",
                                "utimensat(times)",
                                "readlink",
                                "symlink",
                                "link",
                                "getxattr",
                                "listxattr",
                                "statfs"};
  return names[static_cast<int>(op)];
}

const std::vector<Modes> &mode_set() {
  static const std::vector<Modes> all = [] {
    std::vector<Modes> m;
    for (mode_t t : {0000, 0400, 0200, 0100, 0700, 0755, 0777, 0070, 0007, 0644})
      m.push_back({0777, t});
    for (mode_t p : {0700, 0070, 0007, 0500, 0300, 0100, 0755})
      for (mode_t sticky : {0, S_ISVTX}) m.push_back({p | sticky, 0644});
    m.push_back({0777 | S_ISVTX, 0666});
    return m;
  }();
  return all;
}

std::string Case::text() const {
  char b[160];
  snprintf(b, sizeof(b), "%s by %s, parent %04o, target %04o (%s)", op_name(op),
           role_name(caller->role), modes.parent, modes.target, dir.c_str());
  return b;
}

namespace {

void owned(const std::string &p, mode_t mode) {
  if (lchown(p.c_str(), kOwnerUid, kGroupGid) != 0) perror(p.c_str());
  if (chmod(p.c_str(), mode) != 0 && errno != ENOENT) perror(p.c_str());
}

}  // namespace

void prepare(const std::string &root, const Case &c) {
  std::string d = root + "/" + c.dir, p = d + "/p", q = d + "/q", t = p + "/t";
  mkdir(d.c_str(), 0755);
  mkdir(p.c_str(), 0700);
  mkdir(q.c_str(), 0700);
  if (c.op == Op::kRmdir) {
    mkdir(t.c_str(), 0700);
    owned(t, c.modes.target);
  } else if (c.op == Op::kReadlink) {
    if (symlink("somewhere", t.c_str()) != 0) perror(t.c_str());
    if (lchown(t.c_str(), kOwnerUid, kGroupGid) != 0) perror(t.c_str());
  } else {
    int fd = open(t.c_str(), O_CREAT | O_WRONLY, 0600);
    if (fd < 0 || write(fd, "data", 4) != 4) perror(t.c_str());
    if (fd >= 0) close(fd);
    if (setxattr(t.c_str(), "user.k", "v", 1, 0) != 0) perror(t.c_str());
    owned(t, c.modes.target);
  }
  owned(p, c.modes.parent);
  owned(q, c.modes.parent);
}

namespace {

// The calls of one side: the bypass's finesse_* or libc's.
struct Api {
  int (*stat)(const char *, struct stat *);
  int (*access)(const char *, int);
  int (*unlink)(const char *);
  int (*rmdir)(const char *);
  int (*mkdir)(const char *, mode_t);
  int (*rename)(const char *, const char *);
  int (*chmod)(const char *, mode_t);
  int (*chown)(const char *, uid_t, gid_t);
  int (*truncate)(const char *, off_t);
  int (*utimensat)(int, const char *, const struct timespec *, int);
  ssize_t (*readlink)(const char *, char *, size_t);
  int (*symlink)(const char *, const char *);
  int (*link)(const char *, const char *);
  ssize_t (*getxattr)(const char *, const char *, void *, size_t);
  ssize_t (*listxattr)(const char *, char *, size_t);
  int (*statfs)(const char *, struct statfs *);
};

const Api kBypass = {finesse_stat,     finesse_access,    finesse_unlink,    finesse_rmdir,
                     finesse_mkdir,    finesse_rename,    finesse_chmod,     finesse_chown,
                     finesse_truncate, finesse_utimensat, finesse_readlink,  finesse_symlink,
                     finesse_link,     finesse_getxattr,  finesse_listxattr, finesse_statfs};
const Api kKernel = {::stat,  ::access,   ::unlink,    ::rmdir,     ::mkdir,    ::rename,
                     ::chmod, ::chown,    ::truncate,  ::utimensat, ::readlink, ::symlink,
                     ::link,  ::getxattr, ::listxattr, ::statfs};

Outcome result(long rc, std::string data = "") {
  Outcome o;
  o.rc = rc < 0 ? -1 : rc;
  o.err = rc < 0 ? errno : 0;
  if (rc >= 0) o.data = std::move(data);
  return o;
}

}  // namespace

Outcome run(const std::string &root, const Case &c, bool bypass) {
  const Api &a = bypass ? kBypass : kKernel;
  std::string d = root + "/" + c.dir, p = d + "/p", t = p + "/t";
  const char *tp = t.c_str();
  errno = 0;
  struct stat st;
  char buf[64];
  switch (c.op) {
    case Op::kStat: {
      long rc = a.stat(tp, &st);
      return result(rc, rc == 0 ? describe_stat(st) : "");
    }
    case Op::kAccessR:
      return result(a.access(tp, R_OK));
    case Op::kAccessW:
      return result(a.access(tp, W_OK));
    case Op::kAccessX:
      return result(a.access(tp, X_OK));
    case Op::kUnlink:
      return result(a.unlink(tp));
    case Op::kRmdir:
      return result(a.rmdir(tp));
    case Op::kMkdir:
      return result(a.mkdir((p + "/n").c_str(), 0755));
    case Op::kRenameSameDir:
      return result(a.rename(tp, (p + "/u").c_str()));
    case Op::kRenameCrossDir:
      return result(a.rename(tp, (d + "/q/t").c_str()));
    case Op::kChmod:
      return result(a.chmod(tp, 0640));
    case Op::kChownSelf:
      return result(a.chown(tp, geteuid(), static_cast<gid_t>(-1)));
    case Op::kChownOther:
      return result(a.chown(tp, 4242, static_cast<gid_t>(-1)));
    case Op::kChgrpOwnGroup:
      return result(a.chown(tp, static_cast<uid_t>(-1), getegid()));
    case Op::kChgrpFileGroup:
      return result(a.chown(tp, static_cast<uid_t>(-1), kGroupGid));
    case Op::kChgrpForeign:
      return result(a.chown(tp, static_cast<uid_t>(-1), 4242));
    case Op::kTruncate:
      return result(a.truncate(tp, 1));
    case Op::kUtimesNow:
      return result(a.utimensat(AT_FDCWD, tp, nullptr, 0));
    case Op::kUtimesExplicit: {
      struct timespec ts[2] = {{1000000000, 5}, {1000000001, 7}};
      long rc = a.utimensat(AT_FDCWD, tp, ts, 0);
      bool set = rc == 0 && ::lstat(tp, &st) == 0 && st.st_mtim.tv_sec == ts[1].tv_sec;
      return result(rc, set ? "mtime set" : "");
    }
    case Op::kReadlink: {
      long rc = a.readlink(tp, buf, sizeof(buf));
      return result(rc, rc > 0 ? std::string(buf, rc) : "");
    }
    case Op::kSymlink:
      return result(a.symlink("t", (p + "/n").c_str()));
    case Op::kLink:
      return result(a.link(tp, (p + "/l").c_str()));
    case Op::kGetxattr: {
      long rc = a.getxattr(tp, "user.k", buf, sizeof(buf));
      return result(rc, rc > 0 ? std::string(buf, rc) : "");
    }
    case Op::kListxattr: {
      long rc = a.listxattr(tp, buf, sizeof(buf));
      return result(rc, rc > 0 ? std::string(buf, rc) : "");
    }
    case Op::kStatfs: {
      struct statfs sf;
      return result(a.statfs(tp, &sf));
    }
    case Op::kCount:
      break;
  }
  return result(-1);
}

}  // namespace finesse::testing::matrix
