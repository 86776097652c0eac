// Regions are private: each client gets its own sealed memfd over SCM_RIGHTS, is served with
// the credentials the kernel vouches for (SO_PEERCRED at connect), whatever its requests say,
// and no other user can reach its region (or the server's mapping of it) through /proc.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <functional>

#include "attached_fs.h"
#include "raw_client.h"

namespace finesse::testing {
namespace {

MountOptions opts() { return mount_options(FsKind::kMemfs, true, true); }

bool become(uid_t uid, gid_t gid) {
  return syscall(SYS_setgroups, 0, nullptr) == 0 && syscall(SYS_setresgid, gid, gid, gid) == 0 &&
         syscall(SYS_setresuid, uid, uid, uid) == 0;
}

// What a client learns about its region, sent back to the test through a pipe.
struct RegionFacts {
  int rc = -1;
  ino_t ino = 0;
  mode_t mode = 0;
  uid_t owner = 0;
  int seals = 0;
  int32_t stat_priv = 0;  // the server's answer to "stat priv/f" claiming uid/gid 0
  pid_t pid = 0;
  int memfd = -1;
};

// A forked client as uid:gid that connects, reports, and (if linger) stays until killed.
pid_t spawn_client(const std::string &sock, uid_t uid, gid_t gid, bool linger, int *read_end) {
  int p[2];
  if (pipe(p) != 0) return -1;
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    RegionFacts f;
    f.pid = getpid();
    if (become(uid, gid)) {
      prctl(PR_SET_DUMPABLE, 1);  // as an ordinary process of that user would be
      RawClient c;
      f.rc = c.connect(sock);
      if (f.rc == 0 && c.status == wire::HelloStatus::kServed) {
        struct stat st;
        fstat(c.memfd, &st);
        f.ino = st.st_ino;
        f.mode = st.st_mode & 07777;
        f.owner = st.st_uid;
        f.seals = fcntl(c.memfd, F_GET_SEALS);
        f.memfd = c.memfd;
        wire::Request r{};
        r.uid = 0;  // request fields are no credentials
        r.gid = 0;
        c.put_request(0, wire::Op::kStat, r, "priv/f");
        c.post(0);
        f.stat_priv = c.wait_done(0, 10000) ? c.slot(0)->h.result : 1;
      } else if (f.rc == 0) {
        f.rc = -EPERM;
      }
      if (write(p[1], &f, sizeof(f)) != sizeof(f)) _exit(1);
      if (linger)
        for (;;) pause();
    }
    _exit(0);
  }
  close(p[1]);
  *read_end = p[0];
  return pid;
}

RegionFacts read_facts(int fd) {
  RegionFacts f;
  if (read(fd, &f, sizeof(f)) != sizeof(f)) f.rc = -EIO;
  close(fd);
  return f;
}

void reap(pid_t pid) {
  kill(pid, SIGKILL);
  int st;
  waitpid(pid, &st, 0);
}

// Runs fn as uid in a forked child; returns its exit code.
int as_user(uid_t uid, const std::function<int()> &fn) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) _exit(become(uid, uid) ? fn() : 99);
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

class Region : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_unique<AttachedFs>(opts());
    ASSERT_EQ(mkdir(fs_->path("priv").c_str(), 0700), 0);
    ASSERT_EQ(mknod(fs_->path("priv/f").c_str(), S_IFREG | 0600, 0), 0);
    sock_ = server_socket_of(fs_->mnt());
    ASSERT_FALSE(sock_.empty());
  }
  std::unique_ptr<AttachedFs> fs_;
  std::string sock_;
};

TEST_F(Region, EachClientHasItsOwnSealedPrivateRegion) {
  int fa, fb, fc;
  pid_t a = spawn_client(sock_, 1000, 1000, true, &fa);
  pid_t b = spawn_client(sock_, 1001, 1001, true, &fb);
  pid_t c = spawn_client(sock_, 1000, 1000, true, &fc);
  RegionFacts ra = read_facts(fa), rb = read_facts(fb), rc = read_facts(fc);
  for (const RegionFacts *r : {&ra, &rb, &rc}) {
    ASSERT_EQ(r->rc, 0);
    constexpr int kSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
    EXPECT_EQ(r->seals & kSeals, kSeals) << "a client could shrink it under the server";
    EXPECT_EQ(r->mode & 077, 0u) << std::oct << r->mode;
    EXPECT_EQ(r->stat_priv, -EACCES) << "served as root because the request said uid 0";
  }
  EXPECT_NE(ra.ino, rb.ino);
  EXPECT_NE(ra.ino, rc.ino) << "two processes of one user share nothing either";
  EXPECT_NE(rb.ino, rc.ino);

  // User 1001 tries every /proc way into 1000's region and into the server's mappings.
  pid_t daemon = fs_->fs().daemon_pid();
  std::string fd_link = "/proc/" + std::to_string(ra.pid) + "/fd/" + std::to_string(ra.memfd);
  int r = as_user(1001, [&] {
    if (open(fd_link.c_str(), O_RDWR) >= 0) return 1;
    for (pid_t p : {ra.pid, daemon}) {
      std::string mem = "/proc/" + std::to_string(p) + "/mem";
      if (open(mem.c_str(), O_RDONLY) >= 0) return 2;
      std::string mf = "/proc/" + std::to_string(p) + "/map_files";
      if (DIR *d = opendir(mf.c_str())) {
        while (dirent *e = readdir(d)) {
          if (e->d_name[0] == '.') continue;
          if (open((mf + "/" + e->d_name).c_str(), O_RDONLY) >= 0) return 3;
        }
        closedir(d);
      }
      char buf[8];
      iovec local{buf, sizeof(buf)}, remote{reinterpret_cast<void *>(0x10000), sizeof(buf)};
      if (process_vm_readv(p, &local, 1, &remote, 1, 0) >= 0 || errno != EPERM) return 4;
    }
    return 0;
  });
  EXPECT_EQ(r, 0) << "1: fd, 2: mem, 3: map_files, 4: process_vm_readv reached a region";
  // The server's own fds: it keeps no memfd open once the region is mapped.
  int memfds = 0;
  std::string dfd = "/proc/" + std::to_string(daemon) + "/fd";
  if (DIR *d = opendir(dfd.c_str())) {
    while (dirent *e = readdir(d)) {
      char target[256] = {};
      if (readlink((dfd + "/" + e->d_name).c_str(), target, sizeof(target) - 1) > 0 &&
          strstr(target, "finesse-region"))
        memfds++;
    }
    closedir(d);
  }
  EXPECT_EQ(memfds, 0);
  reap(a);
  reap(b);
  reap(c);
}

// A process that forks after connecting: the child must not keep the parent's region, and it
// is served with its own credentials once it drops them, even by raw system calls.
TEST_F(Region, ForkedChildDoesNotInheritTheRegion) {
  AttachedFs &fs = *fs_;
  fflush(nullptr);
  pid_t parent = fork();
  if (parent == 0) {
    struct stat st;
    if (finesse_stat(fs.path("priv/f").c_str(), &st) != 0 ||
        finesse_last_route() != FINESSE_ROUTE_BYPASS)
      _exit(10);
    fflush(nullptr);
    pid_t child = fork();
    if (child == 0) {
      std::ifstream maps("/proc/self/maps");
      std::string line;
      while (std::getline(maps, line))
        if (line.find("finesse-region") != std::string::npos) _exit(20);
      if (!become(65534, 65534)) _exit(11);
      if (finesse_stat(fs.path("priv/f").c_str(), &st) == 0 || errno != EACCES) _exit(21);
      _exit(0);
    }
    int s = 0;
    waitpid(child, &s, 0);
    _exit(WIFEXITED(s) ? WEXITSTATUS(s) : 30);
  }
  int s = 0;
  waitpid(parent, &s, 0);
  ASSERT_TRUE(WIFEXITED(s));
  EXPECT_EQ(WEXITSTATUS(s), 0) << "20: region still mapped in the child, 21: served as root";
}

// A client the mount does not serve (no allow_other, not the owner) gets no region at all.
TEST(RegionNoAllowOther, OtherUsersGetNoRegion) {
  MountOptions o = opts();
  o.allow_other = false;
  AttachedFs fs(o);
  std::string sock = server_socket_of(fs.mnt());
  ASSERT_FALSE(sock.empty());
  int fd;
  pid_t p = spawn_client(sock, 1000, 1000, false, &fd);
  RegionFacts f = read_facts(fd);
  int st;
  waitpid(p, &st, 0);
  EXPECT_EQ(f.rc, -EPERM) << "served without allow_other";
}

}  // namespace
}  // namespace finesse::testing
