// The counters behind fuse-ext/kernel_watch.cpp (issue 13): cwd_gen moves with every cwd
// change of the process (chdir, fchdir, raw system calls included), its mount-change entry
// with every mount and unmount; "watched" counts, per attached mount, the processes that
// asked for change events there (inotify, dnotify) until they exit. Also the server's cwd
// check over them.
#include <bpf/bpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>

#include "attached_fs.h"
#include "kernel_watch.h"
#include "track_programs.h"
#include "track_util.h"

namespace finesse::testing {
namespace {

class Mapped {
 public:
  Mapped(const char *pin, size_t entries) {
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    len_ = (entries * sizeof(uint64_t) + page - 1) / page * page;
    int fd = bpf_obj_get(pin);  // read-write: root
    if (fd < 0) return;
    void *p = mmap(nullptr, len_, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p != MAP_FAILED) slots_ = static_cast<const uint64_t *>(p);
  }
  ~Mapped() {
    if (slots_) munmap(const_cast<uint64_t *>(slots_), len_);
  }
  bool ok() const { return slots_ != nullptr; }
  uint64_t at(uint64_t i) const { return __atomic_load_n(&slots_[i], __ATOMIC_ACQUIRE); }

 private:
  const uint64_t *slots_ = nullptr;
  size_t len_ = 0;
};

class KernelWatchBpf : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_unique<AttachedFs>(MountOptions{});  // attaching loads the programs
    cwd_ = std::make_unique<Mapped>(FINESSE_CWD_GEN_PIN, FINESSE_MOUNT_GEN_INDEX + 1);
    watched_ = std::make_unique<Mapped>(FINESSE_WATCHED_PIN, FINESSE_WATCHED_SLOTS + 1);
    ASSERT_TRUE(cwd_->ok()) << "no mappable " FINESSE_CWD_GEN_PIN;
    ASSERT_TRUE(watched_->ok()) << "no mappable " FINESSE_WATCHED_PIN;
    struct statx stx;
    ASSERT_EQ(statx(AT_FDCWD, fs_->mnt().c_str(), 0, STATX_MNT_ID | STATX_INO, &stx), 0);
    mnt_id_ = stx.stx_mnt_id;
    ASSERT_NE(getcwd(old_cwd_, sizeof(old_cwd_)), nullptr);
  }
  void TearDown() override {
    if (chdir(old_cwd_) != 0) ADD_FAILURE() << "chdir back";
  }
  uint64_t mine() const { return cwd_->at(getpid() & (FINESSE_CWD_GEN_SLOTS - 1)); }
  uint64_t mounts() const { return cwd_->at(FINESSE_MOUNT_GEN_INDEX); }
  uint64_t watchers() const { return watched_->at(mnt_id_ & (FINESSE_WATCHED_SLOTS - 1)); }

  std::unique_ptr<AttachedFs> fs_;
  std::unique_ptr<Mapped> cwd_, watched_;
  uint64_t mnt_id_ = 0;
  char old_cwd_[4096];
};

TEST_F(KernelWatchBpf, EveryCwdChangeMovesTheCounter) {
  ASSERT_EQ(mkdir(fs_->path("d").c_str(), 0755), 0);
  uint64_t g = mine();
  ASSERT_EQ(chdir(fs_->path("d").c_str()), 0);
  EXPECT_GT(mine(), g) << "chdir";
  g = mine();
  ASSERT_EQ(syscall(SYS_chdir, "/"), 0);
  EXPECT_GT(mine(), g) << "raw chdir";
  g = mine();
  int fd = open(fs_->mnt().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fchdir(fd), 0);
  close(fd);
  EXPECT_GT(mine(), g) << "fchdir";
  g = mine();
  EXPECT_NE(chdir("/nonexistent-finesse"), 0);
  EXPECT_EQ(mine(), g) << "a failed chdir changed nothing";
  EXPECT_EQ(cwd_->at(FINESSE_CWD_GEN_SLOTS) & FINESSE_CRED_GEN_DEAD, 0u);
}

TEST_F(KernelWatchBpf, MountsAndUnmountsMoveTheMountCounter) {
  TempDir t;
  uint64_t g = mounts();
  ASSERT_EQ(mount("none", t.path().c_str(), "tmpfs", 0, nullptr), 0) << strerror(errno);
  EXPECT_GT(mounts(), g) << "mount";
  g = mounts();
  ASSERT_EQ(umount2(t.path().c_str(), MNT_DETACH), 0);
  EXPECT_GT(mounts(), g) << "umount";
}

// Runs fn in a child that then waits for a byte on a pipe; returns the watch count seen
// while the child lived, and checks that it is back once the child exited.
uint64_t count_while(const std::function<bool()> &fn, const std::function<uint64_t()> &count,
                     uint64_t *after) {
  int ready[2], go[2];
  if (pipe(ready) != 0 || pipe(go) != 0) return 0;
  pid_t pid = fork();
  if (pid == 0) {
    close(go[1]);  // else our own copy keeps the read below from seeing EOF
    close(ready[0]);
    char c = fn() ? 'r' : 'x';
    if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) < 0) _exit(1);
    _exit(0);
  }
  close(ready[1]);
  close(go[0]);
  char c = 0;
  uint64_t during = read(ready[0], &c, 1) == 1 && c == 'r' ? count() : ~0ull;
  close(go[1]);
  int status;
  waitpid(pid, &status, 0);
  close(ready[0]);
  *after = count();
  return during;
}

TEST_F(KernelWatchBpf, WatchesCountUntilTheWatcherExits) {
  ASSERT_EQ(mkdir(fs_->path("w").c_str(), 0755), 0);
  uint64_t before = watchers(), after = 0;
  std::string dir = fs_->path("w");
  uint64_t during = count_while(
      [&] {
        int in = inotify_init1(0);
        return in >= 0 && inotify_add_watch(in, dir.c_str(), IN_CREATE) >= 0 &&
               inotify_add_watch(in, dir.c_str(), IN_DELETE) >= 0;  // one pair only
      },
      [&] { return watchers(); }, &after);
  EXPECT_EQ(during, before + 1) << "inotify";
  EXPECT_EQ(after, before) << "not dropped at exit";
  during = count_while(
      [&] {
        int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
        return fd >= 0 && fcntl(fd, F_NOTIFY, DN_CREATE | DN_MULTISHOT) == 0;
      },
      [&] { return watchers(); }, &after);
  EXPECT_EQ(during, before + 1) << "dnotify";
  EXPECT_EQ(after, before) << "not dropped at exit";
  // Elsewhere: not this mount.
  TempDir other;
  during = count_while(
      [&] {
        int in = inotify_init1(0);
        return in >= 0 && inotify_add_watch(in, other.path().c_str(), IN_CREATE) >= 0;
      },
      [&] { return watchers(); }, &after);
  EXPECT_EQ(during, before);
}

// A watcher's child may inherit the inotify fd and outlive it (inotifywait --daemon): the
// mount stays watched until the child exits too.
TEST_F(KernelWatchBpf, ChildOfAWatcherKeepsTheMountWatched) {
  ASSERT_EQ(mkdir(fs_->path("k").c_str(), 0755), 0);
  std::string dir = fs_->path("k");
  uint64_t before = watchers();
  int go[2], ready[2];
  ASSERT_EQ(pipe(go), 0);
  ASSERT_EQ(pipe(ready), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(go[1]);
    close(ready[0]);
    int in = inotify_init1(0);
    if (in < 0 || inotify_add_watch(in, dir.c_str(), IN_CREATE) < 0) _exit(1);
    if (fork() == 0) {  // the grandchild keeps the inotify fd, its parent exits at once
      char c = 'r';
      if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) < 0) _exit(1);
      _exit(0);
    }
    _exit(0);
  }
  close(go[0]);
  close(ready[1]);
  int status;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);  // the grandchild runs; its parent is gone
  EXPECT_EQ(watchers(), before + 1) << "the watcher's exit dropped a watch its child holds";
  close(go[1]);  // the grandchild exits; it is not our child: wait for its pipe end to close
  EXPECT_EQ(read(ready[0], &c, 1), 0);
  close(ready[0]);
  // Its exit handler ran before its fds were closed (sched_process_exit precedes exit_files).
  EXPECT_EQ(watchers(), before) << "not dropped when the last holder exited";
}

// Where tracing programs are allowed, fentry/security_path_notify sees the mount a watch is
// really put on: also through a symlink from outside, which the path-matching tracepoint
// programs cannot follow.
TEST_F(KernelWatchBpf, WatchThroughASymlinkIsSeenByTheLsmHook) {
  bool hooked = false;
  for (const auto &p : loader::pinned_programs()) hooked = hooked || p.name == "on_path_notify";
  if (!hooked)
    GTEST_SKIP() << "fentry/security_path_notify not attached (tracing programs refused here)";
  ASSERT_EQ(mkdir(fs_->path("s").c_str(), 0755), 0);
  TempDir out;
  std::string link = out.path() + "/to-mount";
  ASSERT_EQ(symlink(fs_->path("s").c_str(), link.c_str()), 0);
  uint64_t before = watchers(), after = 0;
  uint64_t during = count_while(
      [&] {
        int in = inotify_init1(0);
        return in >= 0 && inotify_add_watch(in, link.c_str(), IN_CREATE) >= 0;
      },
      [&] { return watchers(); }, &after);
  EXPECT_EQ(during, before + 1);
  EXPECT_EQ(after, before);
}

// The server's check: the real cwd of a process against an inode of the mount.
TEST_F(KernelWatchBpf, ServerCwdCheckFollowsHiddenChdirs) {
  ASSERT_EQ(mkdir(fs_->path("c").c_str(), 0755), 0);
  struct stat st, root;
  ASSERT_EQ(stat(fs_->path("c").c_str(), &st), 0);
  ASSERT_EQ(stat("/", &root), 0);
  uint32_t dev = (major(st.st_dev) << 20) | minor(st.st_dev);
  server::KernelWatch k;
  server::CwdCheck c;
  ASSERT_EQ(chdir(fs_->path("c").c_str()), 0);
  EXPECT_TRUE(k.cwd_is(getpid(), dev, st.st_ino, &c));
  EXPECT_TRUE(c.valid) << "the counter was not read";
  EXPECT_TRUE(k.cwd_is(getpid(), dev, st.st_ino, &c));
  ASSERT_EQ(syscall(SYS_chdir, "/"), 0);
  EXPECT_FALSE(k.cwd_is(getpid(), dev, st.st_ino, &c)) << "a hidden chdir went unseen";
  EXPECT_FALSE(k.cwd_is(getpid(), dev, root.st_ino, &c)) << "another file system's inode";
  // What the check costs (printed, not asserted): counter unchanged, and after a chdir.
  ASSERT_EQ(chdir(fs_->path("c").c_str()), 0);
  constexpr int kRounds = 20000;
  pid_t self = getpid();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; i++) k.cwd_is(self, dev, st.st_ino, &c);
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; i++) {
    c.valid = false;  // as after a chdir: the kernel is asked
    k.cwd_is(self, dev, st.st_ino, &c);
  }
  auto t2 = std::chrono::steady_clock::now();
  auto ns = [](auto d) { return std::chrono::duration<double, std::nano>(d).count() / kRounds; };
  printf("cwd check: %.0f ns unchanged counter, %.0f ns with the statx of /proc/<pid>/cwd\n",
         ns(t1 - t0), ns(t2 - t1));
}

}  // namespace
}  // namespace finesse::testing
