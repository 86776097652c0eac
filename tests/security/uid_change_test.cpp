// A client that changes its credentials after connecting must be served with its new
// credentials or fall back: never with the old ones. The answers must be the kernel's.
// Both ways of changing them are tried: through glibc (which libfinesse interposes) and by
// raw system calls (which it cannot see: the server learns of them from the BPF programs'
// credential-change counters and re-reads every thread's credentials; docs/security.md).
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <functional>
#include <semaphore>
#include <thread>

#include "attached_fs.h"
#include "raw_client.h"

namespace finesse::testing {
namespace {

MountOptions opts(FsKind kind) { return mount_options(kind, true, true); }

// Runs fn in a forked child as root; returns its exit code (0 ok), 128+signal if killed.
int in_child(const std::function<int()> &fn) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) _exit(fn() & 0xff);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

int errno_of(int rc) {
  return rc == 0 ? 0 : errno;
}

enum class Via { kGlibc, kRawSyscall };

int drop(Via via, uid_t uid, gid_t gid, std::vector<gid_t> groups) {
  if (via == Via::kGlibc)
    return setgroups(groups.size(), groups.data()) || setresgid(gid, gid, gid) ||
           setresuid(uid, uid, uid);
  return syscall(SYS_setgroups, groups.size(), groups.data()) ||
         syscall(SYS_setresgid, gid, gid, gid) || syscall(SYS_setresuid, uid, uid, uid);
}

class UidChange : public ::testing::TestWithParam<std::tuple<FsKind, Via>> {
 protected:
  void SetUp() override {
    fs_ = std::make_unique<AttachedFs>(opts(std::get<0>(GetParam())));
    auto p = [&](const char *r) { return fs_->path(r); };
    ASSERT_EQ(mkdir(p("priv").c_str(), 0700), 0);
    ASSERT_EQ(mknod(p("priv/f").c_str(), S_IFREG | 0644, 0), 0);
    ASSERT_EQ(mkdir(p("rootdir").c_str(), 0755), 0);
    ASSERT_EQ(mknod(p("rootdir/f").c_str(), S_IFREG | 0666, 0), 0);
    ASSERT_EQ(chmod(p("rootdir/f").c_str(), 0666), 0);
    ASSERT_EQ(mkdir(p("grp").c_str(), 0070), 0);
    ASSERT_EQ(chown(p("grp").c_str(), 0, 1001), 0);
    ASSERT_EQ(mknod(p("grp/f").c_str(), S_IFREG | 0644, 0), 0);
  }
  std::unique_ptr<AttachedFs> fs_;
};

// Connected as root, then nobody: the root-only answers must now be refusals.
TEST_P(UidChange, RootToNobodyAfterConnecting) {
  Via via = std::get<1>(GetParam());
  AttachedFs &fs = *fs_;
  int rc = in_child([&] {
    struct stat st;
    if (finesse_stat(fs.path("priv/f").c_str(), &st) != 0) return 10;
    if (finesse_last_route() != FINESSE_ROUTE_BYPASS) return 11;  // connected and served
    if (drop(via, 65534, 65534, {}) != 0) return 12;
    if (errno_of(finesse_stat(fs.path("priv/f").c_str(), &st)) != EACCES) return 20;
    if (errno_of(finesse_access(fs.path("priv/f").c_str(), F_OK)) != EACCES) return 21;
    if (errno_of(finesse_unlink(fs.path("rootdir/f").c_str())) != EACCES) return 22;
    if (errno_of(finesse_mkdir(fs.path("rootdir/d").c_str(), 0755)) != EACCES) return 23;
    if (errno_of(finesse_chmod(fs.path("rootdir/f").c_str(), 0777)) != EPERM) return 24;
    if (errno_of(finesse_chown(fs.path("rootdir/f").c_str(), 65534, 65534)) != EPERM) return 25;
    return 0;
  });
  EXPECT_EQ(rc, 0) << "1x: setup, 2x: the call got an answer only root may get";
  struct stat st;
  EXPECT_EQ(stat(fs.path("rootdir/f").c_str(), &st), 0) << "the unlink happened";
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  EXPECT_EQ(st.st_uid, 0u);
}

// Connected with a supplementary group that opens a directory, then the group dropped.
TEST_P(UidChange, SupplementaryGroupDroppedAfterConnecting) {
  Via via = std::get<1>(GetParam());
  AttachedFs &fs = *fs_;
  int rc = in_child([&] {
    // Real and saved uid stay 0 so that the groups can be changed again later.
    std::vector<gid_t> g = {1001};
    if (setgroups(1, g.data()) != 0 || setresgid(1000, 1000, 1000) != 0 ||
        setresuid(0, 1000, 0) != 0)
      return 10;
    struct stat st;
    if (finesse_stat(fs.path("grp/f").c_str(), &st) != 0) return 11;
    if (finesse_last_route() != FINESSE_ROUTE_BYPASS) return 12;
    bool raw = via == Via::kRawSyscall;
    auto seteuid_ = [&](uid_t u) {
      return raw ? syscall(SYS_setresuid, -1, u, -1) : setresuid(-1, u, -1);
    };
    if (seteuid_(0) != 0) return 13;
    if ((raw ? syscall(SYS_setgroups, 0, nullptr) : setgroups(0, nullptr)) != 0) return 14;
    if (seteuid_(1000) != 0) return 15;
    if (errno_of(finesse_stat(fs.path("grp/f").c_str(), &st)) != EACCES) return 20;
    return 0;
  });
  EXPECT_EQ(rc, 0) << "1x: setup, 2x: served with the dropped group";
}

std::string name(const ::testing::TestParamInfo<std::tuple<FsKind, Via>> &i) {
  return fs_name(std::get<0>(i.param)) +
         (std::get<1>(i.param) == Via::kGlibc ? "_glibc" : "_raw_syscall");
}

INSTANTIATE_TEST_SUITE_P(All, UidChange,
                         ::testing::Combine(::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                                            ::testing::Values(Via::kGlibc)),
                         name);
INSTANTIATE_TEST_SUITE_P(RawSyscall, UidChange,
                         ::testing::Combine(::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                                            ::testing::Values(Via::kRawSyscall)),
                         name);

// Capabilities dropped the way libcap's cap_set_proc does it (capset(2), never interposed):
// root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH may not search another user's 0700
// directory.
TEST(CapabilityDrop, RootWithoutDacCapsAfterConnecting) {
  AttachedFs fs(opts(FsKind::kMemfs));
  ASSERT_EQ(mkdir(fs.path("theirs").c_str(), 0700), 0);
  ASSERT_EQ(chown(fs.path("theirs").c_str(), 1000, 1000), 0);
  ASSERT_EQ(mknod(fs.path("theirs/f").c_str(), S_IFREG | 0600, 0), 0);
  int rc = in_child([&] {
    struct stat st;
    if (finesse_stat(fs.path("theirs/f").c_str(), &st) != 0) return 10;
    if (finesse_last_route() != FINESSE_ROUTE_BYPASS) return 11;
    struct {
      uint32_t version;
      int pid;
    } hdr{0x20080522, 0};  // _LINUX_CAPABILITY_VERSION_3
    struct {
      uint32_t effective, permitted, inheritable;
    } data[2] = {};
    if (syscall(SYS_capget, &hdr, data) != 0) return 12;
    data[0].effective &= ~((1u << 1) | (1u << 2));  // CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    if (syscall(SYS_capset, &hdr, data) != 0) return 13;
    if (stat(fs.path("theirs/f").c_str(), &st) == 0 || errno != EACCES) return 14;  // kernel
    if (errno_of(finesse_stat(fs.path("theirs/f").c_str(), &st)) != EACCES) return 20;
    return 0;
  });
  EXPECT_EQ(rc, 0) << "1x: setup, 20: served with the capabilities of connect time";
}

bool thread_listed(pid_t tid) {
  struct stat st;
  return stat(("/proc/self/task/" + std::to_string(tid)).c_str(), &st) == 0;
}

// One thread drops its effective uid by a raw system call (the others stay root): the
// process has two sets of credentials and the server cannot tell which thread posted a
// request, so it serves none until they agree again (the thread comes back, or exits).
// Every answer must be the kernel's.
TEST(ThreadCredentials, OneThreadDropsByRawSyscall) {
  AttachedFs fs(opts(FsKind::kMemfs));
  ASSERT_EQ(mkdir(fs.path("priv").c_str(), 0700), 0);
  ASSERT_EQ(mknod(fs.path("priv/f").c_str(), S_IFREG | 0644, 0), 0);
  int rc = in_child([&] {
    std::string f = fs.path("priv/f");
    struct stat st;
    if (finesse_stat(f.c_str(), &st) != 0) return 10;
    if (finesse_last_route() != FINESSE_ROUTE_BYPASS) return 11;
    std::binary_semaphore dropped(0), main_done(0);
    std::atomic<int> thread_rc{0};
    auto fail = [&](int code) {
      thread_rc = code;
      dropped.release();
    };
    std::thread t([&] {
      // The saved uid stays 0, so that the thread can come back.
      if (syscall(SYS_setresuid, -1, 65534, -1) != 0) return fail(12);
      if (errno_of(finesse_stat(f.c_str(), &st)) != EACCES) return fail(20);  // root's answer
      if (finesse_last_route() != FINESSE_ROUTE_KERNEL) return fail(21);
      dropped.release();
      main_done.acquire();
      if (syscall(SYS_setresuid, -1, 0, -1) != 0)
        thread_rc = 13;
      else if (finesse_stat(f.c_str(), &st) != 0)
        thread_rc = 30;
      else if (finesse_last_route() != FINESSE_ROUTE_BYPASS)
        thread_rc = 31;  // alike again
    });
    dropped.acquire();
    int main_rc = 0;
    if (thread_rc == 0) {
      if (finesse_stat(f.c_str(), &st) != 0)
        main_rc = 22;  // root's answer, from the kernel
      else if (finesse_last_route() != FINESSE_ROUTE_KERNEL)
        main_rc = 23;
    }
    main_done.release();
    t.join();
    if (thread_rc != 0) return thread_rc.load();
    if (main_rc != 0) return main_rc;
    // A thread that drops and exits: alike again once it is gone (no credential change).
    pid_t tid = 0;
    std::binary_semaphore dropped2(0), main_done2(0);
    std::thread gone([&] {
      tid = gettid();
      if (syscall(SYS_setresuid, -1, 65534, -1) != 0) thread_rc = 14;
      dropped2.release();
      main_done2.acquire();
    });
    dropped2.acquire();
    if (thread_rc == 0 && finesse_stat(f.c_str(), &st) != 0)
      main_rc = 40;
    else if (thread_rc == 0 && finesse_last_route() != FINESSE_ROUTE_KERNEL)
      main_rc = 43;
    main_done2.release();
    gone.join();
    if (thread_rc != 0) return thread_rc.load();
    if (main_rc != 0) return main_rc;
    while (thread_listed(tid)) sched_yield();  // join returns before the kernel reaps it
    if (finesse_stat(f.c_str(), &st) != 0) return 41;
    if (finesse_last_route() != FINESSE_ROUTE_BYPASS) return 42;
    return 0;
  });
  EXPECT_EQ(rc, 0) << "1x: setup, 20/21: the dropped thread was served, 22/23: the main thread "
                      "was served while the threads differed, 3x/4x: not served once alike";
}

// access(2) checks with the real ids; with a real uid of 0 the kernel gives the check the
// permitted capabilities (do_faccessat, without SECBIT_NO_SETUID_FIXUP): a root daemon that
// set its effective uid to a user's gets root's answer, as the kernel gives it.
TEST(AccessRealIds, RealRootWithUserEffectiveUid) {
  AttachedFs fs(opts(FsKind::kMemfs));
  ASSERT_EQ(mkdir(fs.path("d").c_str(), 0755), 0);
  ASSERT_EQ(mknod(fs.path("d/f").c_str(), S_IFREG | 0600, 0), 0);
  ASSERT_EQ(chmod(fs.path("d/f").c_str(), 0), 0);
  ASSERT_EQ(chown(fs.path("d/f").c_str(), 1000, 1000), 0);
  int rc = in_child([&] {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(0, 65534, 0) != 0) return 10;
    std::string f = fs.path("d/f");
    for (int mode : {R_OK, W_OK, R_OK | W_OK, F_OK}) {
      errno = 0;
      int k = access(f.c_str(), mode);
      int kerr = k != 0 ? errno : 0;
      errno = 0;
      int b = finesse_access(f.c_str(), mode);
      int berr = b != 0 ? errno : 0;
      if (b != k || berr != kerr) return 20 + mode;
    }
    return 0;
  });
  EXPECT_EQ(rc, 0) << "1x: setup, 2x: access(mode x) answered otherwise than the kernel";
}

// The process that connected is what the server serves, not its pid. Drives a raw client:
// it connects as nobody and forks; the child keeps the inherited region (no atfork handler).
int drop_to_nobody() {
  return setgroups(0, nullptr) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534);
}

// Posts a stat of path in slot 0 and returns the server's result (INT32_MIN: no answer).
int32_t raw_stat(RawClient &c, const std::string &path) {
  memset(c.slot(0)->data, 0, wire::kSlotDataSize);
  c.put_request(0, wire::Op::kStat, wire::Request{}, path);
  c.post(0);
  if (!c.wait_done(0, 10000)) return INT32_MIN;
  return c.slot(0)->h.result;
}

// The connecting process exits; its forked child goes on using the region and socket: the
// server must drop the connection (it must not serve the child with the parent's
// credentials, nor, after a re-read, with those of whatever process gets the pid next).
TEST(ProcessIdentity, ChildOfAnExitedClientIsDropped) {
  AttachedFs fs(opts(FsKind::kMemfs));
  ASSERT_EQ(mknod(fs.path("f").c_str(), S_IFREG | 0644, 0), 0);
  std::string sock = server_socket_of(fs.mnt());
  ASSERT_FALSE(sock.empty());
  int result[2];
  ASSERT_EQ(pipe2(result, O_CLOEXEC), 0);
  int rc = in_child([&] {
    if (drop_to_nobody() != 0) return 10;
    RawClient c;
    if (c.connect(sock) != 0 || c.status != wire::HelloStatus::kServed) return 11;
    if (raw_stat(c, "f") != 0) return 12;  // served while its process lives
    int self = static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0));
    if (self < 0) return 13;
    pid_t child = fork();
    if (child < 0) return 14;
    if (child > 0) return 0;  // the connecting process exits at once
    // The child: waits until its parent has exited, then for the server to close.
    pollfd p{self, POLLIN, 0};
    char code = 0;
    if (poll(&p, 1, 10000) != 1) code = 20;
    auto *hdr = wire::header_of(c.region);
    for (int i = 0; code == 0 && i < 10000 && hdr->closed.load() == 0; i++) usleep(1000);
    if (code == 0 && hdr->closed.load() == 0) code = 21;  // still served after 10 s
    if (write(result[1], &code, 1) != 1) _exit(2);
    _exit(0);
  });
  close(result[1]);
  ASSERT_EQ(rc, 0) << "1x: setup";
  char code = 99;
  ASSERT_EQ(read(result[0], &code, 1), 1);
  close(result[0]);
  EXPECT_EQ(code, 0) << "20: parent did not exit, 21: the child of an exited client is still "
                        "served";
}

// The connecting process (nobody) gains root by exec'ing a set-user-ID program while a child
// it forked posts on the inherited region: a re-read of /proc/<pid> must not raise the
// connection's credentials (FALLBACK; the kernel then judges the child, which is nobody).
TEST(ProcessIdentity, ReReadNeverRaisesCredentials) {
  AttachedFs fs(opts(FsKind::kMemfs));
  ASSERT_EQ(mkdir(fs.path("priv").c_str(), 0700), 0);
  ASSERT_EQ(mknod(fs.path("priv/f").c_str(), S_IFREG | 0644, 0), 0);
  std::string sock = server_socket_of(fs.mnt());
  ASSERT_FALSE(sock.empty());
  // A set-user-ID root copy of sleep.
  TempDir tmp;
  ASSERT_EQ(chmod(tmp.path().c_str(), 0755), 0);
  std::string suid_sleep = tmp.sub("sleep");
  ASSERT_EQ(run_command({"cp", "/bin/sleep", suid_sleep}).status, 0);
  ASSERT_EQ(chown(suid_sleep.c_str(), 0, 0), 0);
  ASSERT_EQ(chmod(suid_sleep.c_str(), 04755), 0);
  int result[2];
  ASSERT_EQ(pipe2(result, O_CLOEXEC), 0);
  fflush(nullptr);
  pid_t connector = fork();
  if (connector == 0) {
    if (drop_to_nobody() != 0) _exit(10);
    RawClient c;
    if (c.connect(sock) != 0 || c.status != wire::HelloStatus::kServed) _exit(11);
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) _exit(12);
    if (child > 0) {
      execl(suid_sleep.c_str(), "sleep", "60", nullptr);
      _exit(13);
    }
    // The child: waits until its parent runs as root, then asks for a root-only answer.
    char code = 0;
    std::string status = "/proc/" + std::to_string(parent) + "/status";
    bool root = false;
    for (int i = 0; i < 10000 && !root; i++) {
      char buf[4096] = {};
      int fd = open(status.c_str(), O_RDONLY | O_CLOEXEC);
      ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
      if (fd >= 0) close(fd);
      unsigned r = 1, e = 1;
      const char *u = n > 0 ? strstr(buf, "Uid:") : nullptr;
      root = u != nullptr && sscanf(u, "Uid: %u %u", &r, &e) == 2 && e == 0;
      if (!root) usleep(1000);
    }
    if (!root) code = 20;
    int32_t res = code == 0 ? raw_stat(c, "priv/f") : 0;
    if (code == 0 && res != wire::kFallback && res != -EACCES) code = 21;
    if (write(result[1], &code, 1) != 1) _exit(2);
    _exit(0);
  }
  ASSERT_GT(connector, 0);
  close(result[1]);
  char code = 99;
  ssize_t n = read(result[0], &code, 1);  // EOF if the connector failed before forking
  close(result[0]);
  kill(connector, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(connector, &status, 0), connector);
  ASSERT_TRUE(WIFSIGNALED(status)) << "1x: setup, exit " << WEXITSTATUS(status);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(code, 0) << "20: the set-user-ID exec did not make the parent root, 21: the child "
                        "was served with the credentials its parent gained";
}

}  // namespace
}  // namespace finesse::testing
