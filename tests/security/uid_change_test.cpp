// A client that changes its credentials after connecting must be served with its new
// credentials or fall back: never with the old ones. The answers must be the kernel's.
// Both ways of changing them are tried: through glibc (which libfinesse interposes) and by
// raw system calls (which it cannot see: the server learns of them from the BPF programs'
// credential-change counters and re-reads every thread's credentials; docs/security.md).
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <functional>
#include <semaphore>
#include <thread>

#include "attached_fs.h"

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

}  // namespace
}  // namespace finesse::testing
