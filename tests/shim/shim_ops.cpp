// shim_ops ROOT SEED N [nobody]: a seeded random sequence of metadata calls in plain libc on
// the tree at ROOT (built by build_twin_tree), one result line per call. The shim test runs
// it under LD_PRELOAD on one tree and without on a twin tree and compares the lines. Paths
// are given absolute, relative to the cwd (which moves), or relative to a dirfd, so the
// shim's cwd and dirfd caches are exercised as well as the registry. After every successful
// call errno must still hold the value it had before (checked here, reported in the line).
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <random>
#include <string>

namespace {

const char *const kDirs[] = {"", "open", "ro", "sticky", "priv", "mine", "open/sub"};
const char *const kNames[] = {"a", "b", "c", "d", "."};
constexpr int kSentinel = 4242;

std::mt19937 g_rng;
std::string g_root;
int g_rootfd = -1, g_openfd = -1;
bool g_in_open = false;  // the cwd is ROOT/open instead of ROOT

std::string pick() {
  std::string d = kDirs[g_rng() % 7];
  std::string n = kNames[g_rng() % (g_rng() % 8 == 0 ? 5 : 4)];
  std::string p = d.empty() ? n : d + "/" + n;
  if (g_rng() % 16 == 0) p += "/x";
  return p;
}

// How a path reaches the call: (dirfd, path) plus a label for the output line.
struct Where {
  int fd;
  std::string path, label;
};

Where where(const std::string &p) {
  switch (g_rng() % 4) {
    case 0:
      return {AT_FDCWD, g_root + "/" + p, "abs:" + p};
    case 1:
      if (g_in_open) return {AT_FDCWD, "../" + p, "cwd:" + p};
      return {AT_FDCWD, p, "cwd:" + p};
    case 2:
      return {g_rootfd, p, "fd:" + p};
    default:
      if (p.rfind("open/", 0) == 0) return {g_openfd, p.substr(5), "openfd:" + p};
      return {g_openfd, "../" + p, "openfd:" + p};
  }
}

std::string describe(const struct stat &st) {
  char b[128];
  snprintf(b, sizeof(b), "mode=%o nlink=%lu uid=%u gid=%u size=%lld", st.st_mode,
           static_cast<unsigned long>(S_ISDIR(st.st_mode) ? 0 : st.st_nlink), st.st_uid, st.st_gid,
           static_cast<long long>(S_ISDIR(st.st_mode) ? 0 : st.st_size));
  return b;
}

void emit(int i, const std::string &text, long rc, const std::string &data = "") {
  int e = errno;
  if (rc >= 0 && e != kSentinel)
    printf("%d %s rc=%ld ERRNO-CHANGED-ON-SUCCESS=%d\n", i, text.c_str(), rc, e);
  else
    printf("%d %s rc=%ld errno=%d %s\n", i, text.c_str(), rc, rc < 0 ? e : 0,
           rc >= 0 ? data.c_str() : "");
}

// An absolute-or-cwd path for the calls that have no *at form.
std::string plain(const Where &w, const std::string &p) {
  if (w.fd == AT_FDCWD) return w.path;
  return g_root + "/" + p;
}

void one(int i, bool root) {
  std::string p = pick(), q = pick();
  Where w = where(p), v = where(q);
  std::string pp = plain(w, p);
  struct stat st;
  errno = kSentinel;
  switch (g_rng() % 22) {
    case 0: {
      long rc = stat(pp.c_str(), &st);
      return emit(i, "stat " + p, rc, rc == 0 ? describe(st) : "");
    }
    case 1: {
      long rc = lstat(pp.c_str(), &st);
      return emit(i, "lstat " + p, rc, rc == 0 ? describe(st) : "");
    }
    case 2: {
      int fl = g_rng() % 2 ? AT_SYMLINK_NOFOLLOW : 0;
      long rc = fstatat(w.fd, w.path.c_str(), &st, fl);
      return emit(i, "fstatat " + w.label + " " + std::to_string(fl), rc,
                  rc == 0 ? describe(st) : "");
    }
    case 3: {
      struct statx sx;
      long rc = statx(w.fd, w.path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx);
      char b[96];
      snprintf(b, sizeof(b), "mode=%o uid=%u size=%llu", sx.stx_mode, sx.stx_uid,
               S_ISDIR(sx.stx_mode) ? 0ULL : static_cast<unsigned long long>(sx.stx_size));
      return emit(i, "statx " + w.label, rc, rc == 0 ? b : "");
    }
    case 4: {
      int mode = static_cast<int>(g_rng() % 8), fl = g_rng() % 3 == 0 ? AT_EACCESS : 0;
      return emit(i, "faccessat " + w.label + " " + std::to_string(mode) + " " + std::to_string(fl),
                  faccessat(w.fd, w.path.c_str(), mode, fl));
    }
    case 5:
      return emit(i, "access " + p, access(pp.c_str(), static_cast<int>(g_rng() % 8)));
    case 6:
      return emit(i, "mkdirat " + w.label, mkdirat(w.fd, w.path.c_str(), 0755));
    case 7:
      return emit(i, "unlinkat-dir " + w.label, unlinkat(w.fd, w.path.c_str(), AT_REMOVEDIR));
    case 8:
      return emit(i, "unlinkat " + w.label, unlinkat(w.fd, w.path.c_str(), 0));
    case 9: {
      unsigned flags[] = {0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE};
      unsigned f = flags[g_rng() % 4];
      return emit(i, "renameat2 " + w.label + " " + v.label + " " + std::to_string(f),
                  renameat2(w.fd, w.path.c_str(), v.fd, v.path.c_str(), f));
    }
    case 10: {
      mode_t modes[] = {0644, 0600, 0755, 0777, 02755, 01777, 0};
      mode_t m = modes[g_rng() % 7];
      return emit(i, "fchmodat " + w.label + " " + std::to_string(m),
                  fchmodat(w.fd, w.path.c_str(), m, 0));
    }
    case 11: {
      uid_t ids[] = {static_cast<uid_t>(-1), 0, 65534};
      uid_t u = root ? ids[g_rng() % 3] : ids[(g_rng() % 2) * 2];
      gid_t g = ids[g_rng() % 3];
      int fl = g_rng() % 2 ? AT_SYMLINK_NOFOLLOW : 0;
      return emit(i,
                  "fchownat " + w.label + " " + std::to_string(static_cast<int>(u)) + ":" +
                      std::to_string(static_cast<int>(g)) + " " + std::to_string(fl),
                  fchownat(w.fd, w.path.c_str(), u, g, fl));
    }
    case 12: {
      off_t len = static_cast<off_t>(g_rng() % 64);
      return emit(i, "truncate " + p + " " + std::to_string(len), truncate(pp.c_str(), len));
    }
    case 13: {
      const char *t = g_rng() % 2 ? "a" : "../x";
      return emit(i, std::string("symlinkat ") + t + " " + w.label,
                  symlinkat(t, w.fd, w.path.c_str()));
    }
    case 14: {
      int fl = g_rng() % 4 == 0 ? AT_SYMLINK_FOLLOW : 0;
      return emit(i, "linkat " + w.label + " " + v.label + " " + std::to_string(fl),
                  linkat(w.fd, w.path.c_str(), v.fd, v.path.c_str(), fl));
    }
    case 15: {
      char b[16] = {};
      size_t n = 1 + g_rng() % 8;
      long rc = readlinkat(w.fd, w.path.c_str(), b, n);
      return emit(i, "readlinkat " + w.label + " " + std::to_string(n), rc,
                  rc > 0 ? std::string(b, rc) : "");
    }
    case 16: {
      struct timespec ts[2] = {{1000000000 + static_cast<time_t>(g_rng() % 1000), 5},
                               {1000000000 + static_cast<time_t>(g_rng() % 1000), UTIME_OMIT}};
      int fl = g_rng() % 4 == 0 ? AT_SYMLINK_NOFOLLOW : 0;
      long rc = utimensat(w.fd, w.path.c_str(), ts, fl);
      std::string data;
      if (rc == 0 && fstatat(w.fd, w.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
        data = st.st_atim.tv_sec == ts[0].tv_sec ? "atime set" : "atime other";
      errno = kSentinel;
      return emit(i, "utimensat " + w.label, rc, data);
    }
    case 17: {
      struct timeval tv[2] = {{1100000000, 1}, {1100000000 + static_cast<time_t>(g_rng() % 9), 2}};
      return emit(i, "utimes " + p, utimes(pp.c_str(), tv));
    }
    case 18: {
      int fd = openat(w.fd, w.path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0640);
      long rc = fd;
      if (fd >= 0) {
        close(fd);
        rc = 0;
        errno = kSentinel;
      }
      return emit(i, "create " + w.label, rc);
    }
    case 19: {
      char b[16];
      size_t n = g_rng() % 2 ? 0 : 1 + g_rng() % 8;
      const char *name = g_rng() % 4 ? "user.k" : "user.missing";
      bool l = g_rng() % 2;
      long rc = l ? lgetxattr(pp.c_str(), name, n ? b : nullptr, n)
                  : getxattr(pp.c_str(), name, n ? b : nullptr, n);
      return emit(
          i, std::string(l ? "lgetxattr " : "getxattr ") + p + " " + name + " " + std::to_string(n),
          rc, rc > 0 && n ? std::string(b, rc) : "");
    }
    case 20: {
      char b[64];
      size_t n = g_rng() % 2 ? 0 : 64;
      long rc = listxattr(pp.c_str(), n ? b : nullptr, n);
      return emit(i, "listxattr " + p + " " + std::to_string(n), rc,
                  rc > 0 && n ? std::string(b, rc) : "");
    }
    default: {
      // Move the cwd: exercises the chdir/fchdir tracking.
      g_in_open = !g_in_open;
      long rc = g_in_open ? chdir((g_root + "/open").c_str()) : fchdir(g_rootfd);
      return emit(i, g_in_open ? "chdir open" : "fchdir root", rc);
    }
  }
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  g_root = argv[1];
  g_rng.seed(static_cast<uint32_t>(strtoul(argv[2], nullptr, 10)));
  int n = atoi(argv[3]);
  bool root = !(argc > 4 && strcmp(argv[4], "nobody") == 0);
  if (!root) {
    gid_t none[1] = {};
    if (setgroups(0, none) != 0 || setgid(65534) != 0 || setuid(65534) != 0) return 3;
  }
  setvbuf(stdout, nullptr, _IOFBF, 1 << 16);
  if (chdir(g_root.c_str()) != 0) return 4;
  g_rootfd = open(".", O_RDONLY | O_DIRECTORY);
  g_openfd = open("open", O_RDONLY | O_DIRECTORY);
  if (g_rootfd < 0 || g_openfd < 0) return 5;
  for (int i = 0; i < n; i++) one(i, root);
  return 0;
}
