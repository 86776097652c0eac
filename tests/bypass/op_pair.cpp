#include "op_pair.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/statfs.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <sstream>

#include "finesse/finesse.h"

namespace finesse::testing {

namespace {

// Directories of the twin tree with different permission setups.
const std::vector<std::string> kDirs = {"", "open", "ro", "sticky", "priv", "mine", "open/sub"};
const std::vector<std::string> kNames = {"a", "b", "c", "d", "."};

std::string pick_path(std::mt19937 &rng) {
  const std::string &d = kDirs[rng() % kDirs.size()];
  const std::string &n = kNames[rng() % (rng() % 8 == 0 ? kNames.size() : kNames.size() - 1)];
  std::string p = d.empty() ? n : d + "/" + n;
  if (rng() % 16 == 0) p += "/x";  // through a file, or a missing dir
  return p;
}

Outcome outcome(long rc, std::string data = "") {
  Outcome o;
  o.rc = rc;
  o.err = rc < 0 ? errno : 0;
  if (rc >= 0) o.data = std::move(data);
  return o;
}

template <typename F>
Outcome keep_errno(F f) {
  errno = 0;
  return f();
}

}  // namespace

std::string describe_stat(const struct stat &st) {
  char buf[160];
  snprintf(buf, sizeof(buf), "mode=%o nlink=%lu uid=%u gid=%u size=%lld", st.st_mode,
           static_cast<unsigned long>(S_ISDIR(st.st_mode) ? 0 : st.st_nlink), st.st_uid,
           st.st_gid, static_cast<long long>(S_ISDIR(st.st_mode) ? 0 : st.st_size));
  return buf;
}

void build_twin_tree(const std::string &r) {
  auto mk = [&](const std::string &p, mode_t m, uid_t u) {
    std::string full = r + "/" + p;
    mkdir(full.c_str(), 0700);
    chmod(full.c_str(), m);
    if (chown(full.c_str(), u, u) != 0) perror("chown");
  };
  auto file = [&](const std::string &p, mode_t m, uid_t u, const char *content) {
    std::string full = r + "/" + p;
    int fd = open(full.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    if (fd >= 0) {
      if (write(fd, content, strlen(content)) < 0) perror("write");
      close(fd);
    }
    chmod(full.c_str(), m);
    if (chown(full.c_str(), u, u) != 0) perror("chown");
  };
  mkdir(r.c_str(), 0777);
  chmod(r.c_str(), 0777);
  mk("open", 0777, 0);
  mk("ro", 0755, 0);
  mk("sticky", 01777, 0);
  mk("priv", 0700, 0);
  mk("mine", 0755, 65534);
  mk("open/sub", 0777, 0);
  file("a", 0644, 0, "hello");
  file("open/a", 0666, 0, "open file");
  file("ro/a", 0644, 0, "read only");
  file("sticky/a", 0666, 0, "root's, sticky dir");
  file("sticky/b", 0666, 65534, "nobody's, sticky dir");
  file("priv/a", 0600, 0, "private");
  file("mine/a", 0644, 65534, "nobody's");
  std::string l = r + "/open/c";
  if (symlink("a", l.c_str()) != 0) perror("symlink");
  std::string x = r + "/open/a";
  setxattr(x.c_str(), "user.k", "v1", 2, 0);
  setxattr(x.c_str(), "security.selinux", "system_u:object_r:x_t:s0", 25, 0);
}

std::string describe_tree(const std::string &root) {
  std::vector<std::string> lines;
  std::function<void(const std::string &, const std::string &)> walk =
      [&](const std::string &dir, const std::string &rel) {
        DIR *d = opendir(dir.c_str());
        if (!d) return;
        std::vector<std::string> names;
        while (dirent *e = readdir(d))
          if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names.push_back(e->d_name);
        closedir(d);
        for (const auto &n : names) {
          std::string full = dir + "/" + n, r = rel + "/" + n;
          struct stat st;
          if (lstat(full.c_str(), &st) != 0) continue;
          std::string line = r + " " + describe_stat(st);
          if (S_ISLNK(st.st_mode)) {
            char t[256];
            ssize_t k = readlink(full.c_str(), t, sizeof(t));
            line += " -> " + std::string(t, k > 0 ? k : 0);
          }
          lines.push_back(line);
          if (S_ISDIR(st.st_mode)) walk(full, r);
        }
      };
  walk(root, "");
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto &l : lines) out += l + "\n";
  return out;
}

RandomOp run_random_op(std::mt19937 &rng, const std::string &a, const std::string &b, bool root) {
  RandomOp op;
  std::string p = pick_path(rng), q = pick_path(rng);
  std::string pa = a + "/" + p, pb = b + "/" + p, qa = a + "/" + q, qb = b + "/" + q;
  int kind = static_cast<int>(rng() % 19);
  auto bypassed = [&] { op.bypassed = finesse_last_route() == FINESSE_ROUTE_BYPASS; };
  struct stat sa, sb;
  switch (kind) {
    case 0:
    case 1: {
      op.text = "stat " + p;
      op.bypass = keep_errno([&] {
        long rc = finesse_stat(pa.c_str(), &sa);
        return outcome(rc, rc == 0 ? describe_stat(sa) : "");
      });
      bypassed();
      op.kernel = keep_errno([&] {
        long rc = stat(pb.c_str(), &sb);
        return outcome(rc, rc == 0 ? describe_stat(sb) : "");
      });
      break;
    }
    case 2: {
      op.text = "lstat " + p;
      op.bypass = keep_errno([&] {
        long rc = finesse_lstat(pa.c_str(), &sa);
        return outcome(rc, rc == 0 ? describe_stat(sa) : "");
      });
      bypassed();
      op.kernel = keep_errno([&] {
        long rc = lstat(pb.c_str(), &sb);
        return outcome(rc, rc == 0 ? describe_stat(sb) : "");
      });
      break;
    }
    case 3: {
      int mode = static_cast<int>(rng() % 8);
      int flags = rng() % 3 == 0 ? AT_EACCESS : 0;
      op.text = "faccessat " + p + " mode " + std::to_string(mode) + " flags " +
                std::to_string(flags);
      op.bypass = keep_errno([&] { return outcome(finesse_faccessat(AT_FDCWD, pa.c_str(), mode, flags)); });
      bypassed();
      op.kernel = keep_errno([&] { return outcome(faccessat(AT_FDCWD, pb.c_str(), mode, flags)); });
      break;
    }
    case 4: {
      mode_t modes[] = {0755, 0700, 0777, 01777, 0555};
      mode_t m = modes[rng() % 5];
      op.text = "mkdir " + p;
      op.bypass = keep_errno([&] { return outcome(finesse_mkdir(pa.c_str(), m)); });
      bypassed();
      op.kernel = keep_errno([&] { return outcome(mkdir(pb.c_str(), m)); });
      break;
    }
    case 5:
      op.text = "rmdir " + p;
      op.bypass = keep_errno([&] { return outcome(finesse_rmdir(pa.c_str())); });
      bypassed();
      op.kernel = keep_errno([&] { return outcome(rmdir(pb.c_str())); });
      break;
    case 6:
      op.text = "unlink " + p;
      op.bypass = keep_errno([&] { return outcome(finesse_unlink(pa.c_str())); });
      bypassed();
      op.kernel = keep_errno([&] { return outcome(unlink(pb.c_str())); });
      break;
    case 7:
    case 8: {
      unsigned flags[] = {0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE};
      unsigned f = flags[rng() % 4];
      op.text = "rename " + p + " " + q + " flags " + std::to_string(f);
      op.bypass = keep_errno([&] { return outcome(finesse_renameat2(AT_FDCWD, pa.c_str(), AT_FDCWD, qa.c_str(), f)); });
      bypassed();
      op.kernel = keep_errno([&] { return outcome(renameat2(AT_FDCWD, pb.c_str(), AT_FDCWD, qb.c_str(), f)); });
      break;
    }
    case 9: {
      mode_t modes[] = {0644, 0600, 0755, 0777, 02755, 01777, 0};
      mode_t m = modes[rng() % 7];
      op.text = "chmod " + p;
      op.bypass = keep_errno([&] { return outcome(finesse_chmod(pa.c_str(), m)); });
      bypassed();
      op.kernel = keep_errno([&] { return outcome(chmod(pb.c_str(), m)); });
      break;
    }
    case 10: {
      uid_t uids[] = {static_cast<uid_t>(-1), 0, 65534};
      uid_t u = root ? uids[rng() % 3] : uids[(rng() % 2) * 2];
      gid_t g = uids[rng() % 3];
      bool l = rng() % 2;
      op.text = std::string(l ? "lchown " : "chown ") + p + " " + std::to_string(static_cast<int>(u)) +
                ":" + std::to_string(static_cast<int>(g));
      op.bypass = keep_errno([&] { return outcome(l ? finesse_lchown(pa.c_str(), u, g) : finesse_chown(pa.c_str(), u, g)); });
      bypassed();
      op.kernel = keep_errno([&] { return outcome(l ? lchown(pb.c_str(), u, g) : chown(pb.c_str(), u, g)); });
      break;
    }
    case 11: {
      off_t len = static_cast<off_t>(rng() % 64);
      op.text = "truncate " + p + " " + std::to_string(len);
      op.bypass = keep_errno([&] { return outcome(finesse_truncate(pa.c_str(), len)); });
      bypassed();
      op.kernel = keep_errno([&] { return outcome(truncate(pb.c_str(), len)); });
      break;
    }
    case 12: {
      std::string target = rng() % 2 ? "a" : "../x";
      op.text = "symlink " + target + " " + p;
      op.bypass = keep_errno([&] { return outcome(finesse_symlink(target.c_str(), pa.c_str())); });
      bypassed();
      op.kernel = keep_errno([&] { return outcome(symlink(target.c_str(), pb.c_str())); });
      break;
    }
    case 13:
      op.text = "link " + p + " " + q;
      op.bypass = keep_errno([&] { return outcome(finesse_link(pa.c_str(), qa.c_str())); });
      bypassed();
      op.kernel = keep_errno([&] { return outcome(link(pb.c_str(), qb.c_str())); });
      break;
    case 14: {
      size_t n = 1 + rng() % 8;
      char ba[16] = {}, bb[16] = {};
      op.text = "readlink " + p + " " + std::to_string(n);
      op.bypass = keep_errno([&] {
        long rc = finesse_readlink(pa.c_str(), ba, n);
        return outcome(rc, rc > 0 ? std::string(ba, rc) : "");
      });
      bypassed();
      op.kernel = keep_errno([&] {
        long rc = readlink(pb.c_str(), bb, n);
        return outcome(rc, rc > 0 ? std::string(bb, rc) : "");
      });
      break;
    }
    case 15: {
      struct timespec ts[2] = {{1000000000 + static_cast<time_t>(rng() % 1000), 5},
                               {1000000000 + static_cast<time_t>(rng() % 1000), UTIME_OMIT}};
      if (rng() % 2) ts[1].tv_nsec = 7;
      if (rng() % 3 == 0) ts[0].tv_nsec = ts[1].tv_nsec = UTIME_NOW;
      int flags = rng() % 4 == 0 ? AT_SYMLINK_NOFOLLOW : 0;
      op.text = "utimensat " + p;
      op.bypass = keep_errno([&] {
        long rc = finesse_utimensat(AT_FDCWD, pa.c_str(), ts, flags);
        if (rc == 0 && ts[0].tv_nsec != UTIME_NOW && lstat(pa.c_str(), &sa) == 0)
          return outcome(rc, sa.st_atim.tv_sec == ts[0].tv_sec && sa.st_atim.tv_nsec == ts[0].tv_nsec
                                 ? "atime set" : "atime other");
        return outcome(rc);
      });
      bypassed();
      op.kernel = keep_errno([&] {
        long rc = utimensat(AT_FDCWD, pb.c_str(), ts, flags);
        if (rc == 0 && ts[0].tv_nsec != UTIME_NOW && lstat(pb.c_str(), &sb) == 0)
          return outcome(rc, sb.st_atim.tv_sec == ts[0].tv_sec && sb.st_atim.tv_nsec == ts[0].tv_nsec
                                 ? "atime set" : "atime other");
        return outcome(rc);
      });
      break;
    }
    case 16: {
      // Creation is not bypassed: both trees get it through the kernel, to grow the tree.
      op.text = "create " + p;
      auto create = [](const std::string &x) {
        int fd = open(x.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0640);
        if (fd >= 0) close(fd);
        return outcome(fd >= 0 ? 0 : -1);
      };
      op.bypass = keep_errno([&] { return create(pa); });
      op.bypassed = false;
      op.kernel = keep_errno([&] { return create(pb); });
      break;
    }
    case 17: {
      size_t n = rng() % 2 ? 0 : 1 + rng() % 8;
      char va[16], vb[16];
      bool l = rng() % 2;
      // (The SELinux label and the ACLs: answered by the bypass once the kernel handed them
      // to the file system; a symlink's ACLs and names it answers itself stay the kernel's.)
      const char *names[] = {"user.k",
                             "user.k",
                             "user.k",
                             "user.missing",
                             "security.selinux",
                             "system.posix_acl_access",
                             "system.posix_acl_default",
                             "security.capability"};
      const char *name = names[rng() % 8];
      op.text = std::string(l ? "lgetxattr " : "getxattr ") + p + " " + name + " " + std::to_string(n);
      op.bypass = keep_errno([&] {
        long rc = l ? finesse_lgetxattr(pa.c_str(), name, n ? va : nullptr, n)
                    : finesse_getxattr(pa.c_str(), name, n ? va : nullptr, n);
        return outcome(rc, rc > 0 && n ? std::string(va, rc) : "");
      });
      bypassed();
      op.kernel = keep_errno([&] {
        long rc = l ? lgetxattr(pb.c_str(), name, n ? vb : nullptr, n)
                    : getxattr(pb.c_str(), name, n ? vb : nullptr, n);
        return outcome(rc, rc > 0 && n ? std::string(vb, rc) : "");
      });
      break;
    }
    default: {
      size_t n = rng() % 2 ? 0 : 64;
      char la[64], lb[64];
      op.text = "listxattr " + p + " " + std::to_string(n);
      op.bypass = keep_errno([&] {
        long rc = finesse_listxattr(pa.c_str(), n ? la : nullptr, n);
        return outcome(rc, rc > 0 && n ? std::string(la, rc) : "");
      });
      bypassed();
      op.kernel = keep_errno([&] {
        long rc = listxattr(pb.c_str(), n ? lb : nullptr, n);
        return outcome(rc, rc > 0 && n ? std::string(lb, rc) : "");
      });
      break;
    }
  }
  return op;
}

bool build_twin_trees(const std::string &mnt, std::string *a, std::string *b) {
  *a = mnt + "/a";
  *b = mnt + "/b";
  build_twin_tree(*a);
  build_twin_tree(*b);
  return describe_tree(*a) == describe_tree(*b);
}

}  // namespace finesse::testing
