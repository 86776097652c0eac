// finesse-shim-cases dirs DIR: directory streams, every libc call that takes or gives a DIR*,
// printed so that a run through the shim and a run through the kernel compare line by line
// (no inode numbers or cookies: the twins' differ; only whether they agree with stat and
// with each other).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // readdir_r: still called

namespace {

constexpr int kBig = 1200;  // entries for about four replies of the bypass

void touch(const std::string &p) {
  int fd = open(p.c_str(), O_CREAT | O_WRONLY, 0644);
  if (fd >= 0) close(fd);
}

struct Seen {
  std::vector<std::string> names;  // in the stream's order
  int ino_mismatch = 0, type_mismatch = 0;
};

// Reads what is left of d; checks each entry's d_ino and d_type against an lstat.
Seen drain(DIR *d, const std::string &dir, int max = -1) {
  Seen s;
  struct dirent *e;
  while (max != 0 && (e = readdir(d)) != nullptr) {
    if (max > 0) max--;
    s.names.push_back(e->d_name);
    struct stat st;
    if (lstat((dir + "/" + e->d_name).c_str(), &st) != 0) continue;
    if (e->d_ino != st.st_ino) s.ino_mismatch++;
    if (e->d_type != DT_UNKNOWN && static_cast<mode_t>(DTTOIF(e->d_type)) != (st.st_mode & S_IFMT))
      s.type_mismatch++;
  }
  return s;
}

std::string sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  std::string out;
  for (auto &n : v) out += n + " ";
  return out;
}

int dups(const std::vector<std::string> &v) {
  return static_cast<int>(v.size() - std::set<std::string>(v.begin(), v.end()).size());
}

}  // namespace

int case_dirs(const std::string &top) {
  const std::string big = top + "/big", small = top + "/small";
  mkdir(big.c_str(), 0755);
  mkdir(small.c_str(), 0755);
  for (int i = 0; i < kBig; i++) touch(big + "/file-with-a-longish-name-" + std::to_string(i));
  for (const char *n : {"a", "b", "c"}) touch(small + "/" + n);
  mkdir((small + "/sub").c_str(), 0755);
  symlink("a", (small + "/link").c_str());

  // A whole listing, small and big.
  for (const std::string &dir : {small, big}) {
    DIR *d = opendir(dir.c_str());
    if (d == nullptr) return printf("opendir %s errno=%d\n", dir.c_str(), errno), 1;
    Seen s = drain(d, dir);
    printf("list %s: %zu entries, %d dups, ino mismatches %d, type mismatches %d\n",
           dir == big ? "big" : "small", s.names.size(), dups(s.names), s.ino_mismatch,
           s.type_mismatch);
    if (dir == small) printf("small: %s\n", sorted(s.names).c_str());
    errno = 0;
    printf("readdir at the end: %p errno=%d\n", static_cast<void *>(readdir(d)), errno);
    printf("closedir rc=%d\n", closedir(d));
  }

  // telldir/seekdir: back to a cookie from far before (another reply), and to one nearby.
  {
    DIR *d = opendir(big.c_str());
    drain(d, big, 500);
    long far = telldir(d);
    Seen after_far = drain(d, big, 3);
    drain(d, big, 400);
    seekdir(d, far);
    Seen again = drain(d, big, 3);
    printf("seekdir far back: %s\n", again.names == after_far.names ? "same entries" : "DIFFERENT");
    drain(d, big, 5);
    long near = telldir(d);
    Seen after_near = drain(d, big, 2);
    seekdir(d, near);
    Seen again2 = drain(d, big, 2);
    printf("seekdir near: %s, telldir after it %s\n",
           again2.names == after_near.names ? "same entries" : "DIFFERENT",
           telldir(d) != near ? "moved on" : "DID NOT MOVE");
    seekdir(d, 0);
    Seen whole = drain(d, big);
    printf("seekdir 0: %zu entries, %d dups\n", whole.names.size(), dups(whole.names));
    closedir(d);
  }

  // rewinddir sees what changed since opendir.
  {
    DIR *d = opendir(small.c_str());
    drain(d, small);
    unlink((small + "/a").c_str());
    touch(small + "/d");
    rewinddir(d);
    printf("after rewinddir: %s\n", sorted(drain(d, small).names).c_str());
    closedir(d);
    touch(small + "/a");
    unlink((small + "/d").c_str());
  }

  // Entries removed and added during a listing: nothing unchanged is lost, nothing repeats.
  {
    DIR *d = opendir(big.c_str());
    Seen first = drain(d, big, 300);
    for (int i = 0; i < 50; i++)
      unlink((big + "/file-with-a-longish-name-" + std::to_string(i)).c_str());
    for (int i = 0; i < 50; i++) touch(big + "/new-" + std::to_string(i));
    Seen rest = drain(d, big);
    std::set<std::string> all(first.names.begin(), first.names.end());
    all.insert(rest.names.begin(), rest.names.end());
    int missing = 0;
    for (int i = 50; i < kBig; i++)
      if (!all.count("file-with-a-longish-name-" + std::to_string(i))) missing++;
    std::vector<std::string> v = first.names;
    v.insert(v.end(), rest.names.begin(), rest.names.end());
    printf("changed during a listing: %d unchanged missing, %d dups\n", missing, dups(v));
    closedir(d);
  }

  // fdopendir: the stream owns the fd; dirfd gives it back.
  {
    int fd = open(small.c_str(), O_RDONLY | O_DIRECTORY);
    DIR *d = fdopendir(fd);
    printf("fdopendir: dirfd is the fd: %s\n", dirfd(d) == fd ? "yes" : "no");
    printf("fdopendir: %s\n", sorted(drain(d, small).names).c_str());
    closedir(d);
    errno = 0;
    int rc = fcntl(fd, F_GETFD);
    printf("fd after closedir: fcntl rc=%d errno=%d\n", rc, errno);
    // An O_PATH fd: glibc's fdopendir takes it, its getdents fails.
    fd = open(small.c_str(), O_PATH | O_DIRECTORY);
    d = fdopendir(fd);
    errno = 0;
    struct dirent *e = d != nullptr ? readdir(d) : nullptr;
    printf("fdopendir of an O_PATH fd: %s, readdir %s errno=%d\n", d ? "ok" : "null",
           e ? "entry" : "null", errno);
    if (d != nullptr)
      closedir(d);
    else
      close(fd);
  }

  // dirfd of an opendir stream: the directory itself, usable for *at calls and fstat.
  {
    DIR *d = opendir(small.c_str());
    int fd = dirfd(d);
    struct stat a, b;
    bool same =
        fd >= 0 && fstat(fd, &a) == 0 && stat(small.c_str(), &b) == 0 && a.st_ino == b.st_ino;
    printf("dirfd: the directory: %s; fstatat b rc=%d\n", same ? "yes" : "no",
           fstatat(fd, "b", &a, 0));
    printf("dirfd twice the same: %s\n", dirfd(d) == fd ? "yes" : "no");
    closedir(d);
  }

  // readdir_r and readdir64.
  {
    DIR *d = opendir(small.c_str());
    struct dirent ent, *res;
    std::vector<std::string> names;
    while (readdir_r(d, &ent, &res) == 0 && res != nullptr) names.push_back(res->d_name);
    printf("readdir_r: %s\n", sorted(names).c_str());
    rewinddir(d);
    names.clear();
    struct dirent64 *e64;
    while ((e64 = readdir64(d)) != nullptr) names.push_back(e64->d_name);
    printf("readdir64: %s\n", sorted(names).c_str());
    closedir(d);
  }

  // scandir (glibc's lists inside libc): a filter, a sort, an error.
  {
    struct dirent **list = nullptr;
    int n = scandir(
        small.c_str(), &list, [](const struct dirent *e) -> int { return e->d_name[0] != '.'; },
        alphasort);
    std::string names;
    for (int i = 0; i < n; i++) {
      names += std::string(list[i]->d_name) + " ";
      free(list[i]);
    }
    free(list);
    printf("scandir: %d: %s\n", n, names.c_str());
    struct dirent64 **list64 = nullptr;
    n = scandir64(big.c_str(), &list64, nullptr, nullptr);
    for (int i = 0; i < n; i++) free(list64[i]);
    free(list64);
    printf("scandir64 big: %d\n", n);
    errno = 0;
    n = scandir((top + "/missing").c_str(), &list, nullptr, nullptr);
    printf("scandir missing: %d errno=%d\n", n, errno);
  }

  // Errors, as opendir gives them.
  for (const std::string &p : {top + "/missing", small + "/b", small + "/link", std::string("")}) {
    errno = 0;
    DIR *d = opendir(p.c_str());
    printf("opendir %s: %s errno=%d\n", p.empty() ? "\"\"" : p.substr(top.size()).c_str(),
           d ? "ok" : "null", errno);
    if (d) closedir(d);
  }

  // A fork in the middle of a big listing: the child reads on from where the parent was.
  {
    DIR *d = opendir(big.c_str());
    drain(d, big, 400);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      Seen rest = drain(d, big);
      printf("child after fork: %zu more entries\n", rest.names.size());
      fflush(stdout);
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    // (Not read on here: on the kernel path the child's reads moved the shared fd's offset,
    // and what the parent then sees depends on what glibc had buffered.)
    closedir(d);
  }
  return 0;
}

namespace {

// fts's way (du, find): a directory opened, listed through fdopendir, its fd dup'ed for the
// stats that follow and the stream closed. Returns the dup.
int list_as_fts(const std::string &dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  DIR *d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    return -1;
  }
  while (readdir(d) != nullptr) {
  }
  int keep = fcntl(dirfd(d), F_DUPFD_CLOEXEC, 3);
  closedir(d);
  return keep;
}

void show_at(const std::string &what, int dirfd, const char *name, int flags) {
  struct stat st;
  if (fstatat(dirfd, name, &st, flags) != 0) {
    printf("%s: errno=%d\n", what.c_str(), errno);
    return;
  }
  printf("%s: mode=%o nlink=%lu size=%lld\n", what.c_str(), st.st_mode,
         static_cast<unsigned long>(S_ISDIR(st.st_mode) ? 0 : st.st_nlink),
         static_cast<long long>(S_ISDIR(st.st_mode) ? 0 : st.st_size));
}

void write_file(const std::string &p, int bytes) {
  int fd = open(p.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return;
  if (write(fd, "0123456789", static_cast<size_t>(bytes)) != bytes) perror("write");
  close(fd);
}

}  // namespace

// finesse-shim-cases dir-opens DIR: a directory opened with O_DIRECTORY now and then, as fts
// opens one to list it (the test counts the server's wake-ups: each open wakes it).
int case_dir_opens(const std::string &top) {
  const std::string dir = top + "/opened";
  mkdir(dir.c_str(), 0755);
  struct stat st;
  for (int i = 0; i < 2; i++) stat(dir.c_str(), &st);  // connected (the first call is not)
  // The server goes to sleep between the opens (ten times longer under emulation).
  const char *e = getenv("FINESSE_TEST_EMULATED");
  const useconds_t pause = (e != nullptr && atoi(e) != 0 ? 10 : 1) * 20 * 1000;
  usleep(5 * pause);
  int opened = 0;
  for (int i = 0; i < 10; i++) {
    usleep(pause);
    int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) opened++, close(fd);
  }
  printf("opened %d\n", opened);
  return 0;
}

// finesse-shim-cases listed-rel DIR: `ls -lR sub`'s way: a directory listed by a path relative
// to the cwd, and its names stat'ed by relative paths (the shim answers them from the listing:
// the test counts the server's stat requests); paths with "." or ".." components, and a cwd
// whose directory was renamed away and replaced after the listing, are not.
int case_listed_rel(const std::string &top) {
  const std::string dir = top + "/lr";
  mkdir(dir.c_str(), 0755);
  for (int i = 0; i < 20; i++) write_file(dir + "/f" + std::to_string(i), 1 + i % 4);
  mkdir((dir + "/sub").c_str(), 0700);
  usleep(50 * 1000);  // the kernel's releases of the written files are changes: let them be
  if (chdir(top.c_str()) != 0) return 1;
  auto list = [] {
    if (DIR *d = opendir("lr")) {
      while (readdir(d) != nullptr) {
      }
      closedir(d);
    }
  };
  list();
  show_at("first f0", AT_FDCWD, "lr/f0", AT_SYMLINK_NOFOLLOW);  // the next listing asks
  list();
  for (int i = 0; i < 20; i++) {
    const std::string n = "lr/f" + std::to_string(i);
    show_at(n, AT_FDCWD, n.c_str(), AT_SYMLINK_NOFOLLOW);
  }
  show_at("lr/sub", AT_FDCWD, "lr/sub", AT_SYMLINK_NOFOLLOW);
  show_at("./lr/f1", AT_FDCWD, "./lr/f1", AT_SYMLINK_NOFOLLOW);
  show_at("lr/../lr/f2", AT_FDCWD, "lr/../lr/f2", AT_SYMLINK_NOFOLLOW);
  show_at("lr/none", AT_FDCWD, "lr/none", AT_SYMLINK_NOFOLLOW);
  for (const char *x : {"security.selinux", "system.posix_acl_access", "user.none"}) {
    char v[256];
    errno = 0;
    const long n = lgetxattr("lr/f5", x, v, sizeof v);
    printf("lgetxattr lr/f5 %s rc=%d errno=%d\n", x, n < 0 ? -1 : 0, n < 0 ? errno : 0);
  }
  // The cwd renamed away and another directory made at its path, both after the listing:
  // relative paths name the old one's files (f3 has 4 bytes), whatever the listing said.
  if (chdir(dir.c_str()) != 0) return 1;
  mkdir("inner", 0755);
  write_file(dir + "/inner/g", 2);
  usleep(50 * 1000);
  if (DIR *d = opendir("inner")) {
    while (readdir(d) != nullptr) {
    }
    closedir(d);
  }
  show_at("inner/g", AT_FDCWD, "inner/g", AT_SYMLINK_NOFOLLOW);
  if (rename(dir.c_str(), (top + "/lr-old").c_str()) != 0) perror("rename");
  mkdir(dir.c_str(), 0755);
  mkdir((dir + "/inner").c_str(), 0755);
  write_file(dir + "/inner/g", 9);
  usleep(50 * 1000);
  if (DIR *d = opendir((dir + "/inner").c_str())) {
    while (readdir(d) != nullptr) {
    }
    closedir(d);
  }
  show_at("inner/g after the rename", AT_FDCWD, "inner/g", AT_SYMLINK_NOFOLLOW);
  return 0;
}

// finesse-shim-cases listed-at DIR: stats of names through the dirfd a listing was read
// from, as du's fts makes them (the shim answers them from that listing: the test counts the
// server's stat requests), and what they must never be answered from: a listing of another
// directory that now has the listed one's path.
int case_listed_at(const std::string &top) {
  const std::string dir = top + "/la", old = top + "/la-old";
  mkdir(dir.c_str(), 0755);
  for (int i = 0; i < 20; i++) write_file(dir + "/f" + std::to_string(i), 1 + i % 4);
  mkdir((dir + "/sub").c_str(), 0700);
  if (symlink("f0", (dir + "/lnk").c_str()) != 0) perror("symlink");
  usleep(50 * 1000);  // the kernel's releases of the written files are changes: let them be
  // A stat in the directory listed that the listing could not answer: the next listing of
  // this process asks for the entries' attributes.
  int keep = list_as_fts(dir);
  show_at("first f0", keep, "f0", AT_SYMLINK_NOFOLLOW);
  close(keep);
  keep = list_as_fts(dir);
  for (int i = 0; i < 20; i++) {
    const std::string n = "f" + std::to_string(i);
    show_at(n, keep, n.c_str(), AT_SYMLINK_NOFOLLOW);
  }
  show_at("sub", keep, "sub", AT_SYMLINK_NOFOLLOW);
  show_at("lnk", keep, "lnk", AT_SYMLINK_NOFOLLOW);
  show_at("lnk followed", keep, "lnk", 0);
  show_at("none", keep, "none", AT_SYMLINK_NOFOLLOW);
  // A change through the kernel path after the listing.
  if (chmod((dir + "/f1").c_str(), 0600) != 0) perror("chmod");
  show_at("f1 after chmod", keep, "f1", AT_SYMLINK_NOFOLLOW);
  close(keep);
  // The listed directory renamed away, another made at its path and listed by path: the dirfd
  // still names the first one, whose f2 has 3 bytes.
  keep = list_as_fts(dir);
  if (rename(dir.c_str(), old.c_str()) != 0) perror("rename");
  mkdir(dir.c_str(), 0755);
  write_file(dir + "/f2", 7);
  usleep(50 * 1000);
  if (DIR *d = opendir(dir.c_str())) {
    while (readdir(d) != nullptr) {
    }
    closedir(d);
  }
  show_at("renamed-away f2", keep, "f2", AT_SYMLINK_NOFOLLOW);
  show_at("new f2", AT_FDCWD, (dir + "/f2").c_str(), AT_SYMLINK_NOFOLLOW);
  close(keep);
  return 0;
}
