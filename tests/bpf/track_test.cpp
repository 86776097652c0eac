// finesse_track.bpf.c on real mounts: the fd and cwd maps hold the right FUSE identity for
// fds and cwds set up by shells, fork and exec, and never keep an entry past its fd or its
// process. Inspected through the client's reader (kernel_facts) and raw map reads.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/close_range.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>

#include "attached_fs.h"
#include "track_util.h"

namespace finesse::testing {
namespace {

class Track : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_unique<AttachedFs>(MountOptions{});
    mnt_id_ = mount_id_of(fs_->mnt());
    ASSERT_NE(mnt_id_, 0u);
    ASSERT_TRUE(kernel_facts_available()) << "attach did not pin the facts maps";
    int fd = ::open(fs_->path("f").c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
    ASSERT_EQ(::mkdir(fs_->path("d").c_str(), 0755), 0);
  }
  int open_on_mount(const char *rel, int flags = O_RDONLY) {
    return ::open(fs_->path(rel).c_str(), flags);
  }

  std::unique_ptr<AttachedFs> fs_;
  uint64_t mnt_id_ = 0;
};

TEST_F(Track, FdOpenedHereHasMountNodeAndInode) {
  int fd = open_on_mount("f");
  ASSERT_GE(fd, 0);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  FdFact f{};
  ASSERT_TRUE(fd_fact(fd, &f));
  EXPECT_EQ(f.mnt_id, mnt_id_);
  EXPECT_EQ(f.ino, st.st_ino);
  EXPECT_GT(f.nodeid, 1u);  // 1 is the root
  ::close(fd);
  EXPECT_FALSE(fd_fact(fd, &f)) << "entry survived close";
}

TEST_F(Track, RootAndDirectoryFdsCarryTheirNodeIds) {
  int root = ::open(fs_->mnt().c_str(), O_RDONLY | O_DIRECTORY);
  int path_fd = ::open(fs_->path("d").c_str(), O_PATH);
  ASSERT_GE(root, 0);
  ASSERT_GE(path_fd, 0);
  FdFact f{};
  ASSERT_TRUE(fd_fact(root, &f));
  EXPECT_EQ(f.nodeid, 1u);  // FUSE_ROOT_ID
  ASSERT_TRUE(fd_fact(path_fd, &f)) << "O_PATH fds (dirfds of *at calls) are tracked too";
  EXPECT_EQ(f.fh, 0u);
  ::close(root);
  ::close(path_fd);
}

// The file handle is the passthrough daemon's own fd of the backing file.
TEST(TrackPassthrough, ShellRedirectionFdHasTheServersFileHandle) {
  MountOptions o;
  o.fs = FsKind::kPassthrough;
  AttachedFs fs(o);
  int fd = ::open(fs.path("f").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  FdFact mine{};
  ASSERT_TRUE(fd_fact(fd, &mine));
  ::close(fd);
  struct stat st;
  ASSERT_EQ(::stat(fs.path("f").c_str(), &st), 0);

  // The daemon's fd is looked at while the shell still holds the file open: once it is
  // released, the daemon may reuse the number for anything.
  CommandResult r = run_command(
      {"bash", "-c",
       "exec 3<\"$0\"; out=$(\"$1\" fd 3); echo \"$out\"; fh=${out##* fh=}; "
       "echo \"target=$(readlink /proc/$2/fd/${fh%% *})\"",
       fs.path("f"), probe_binary(), std::to_string(fs.fs().daemon_pid())});
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(r.out.find("none"), std::string::npos) << r.out;
  EXPECT_EQ(probe_field(r.out, "mnt"), mount_id_of(fs.mnt())) << r.out;
  EXPECT_EQ(probe_field(r.out, "ino"), st.st_ino) << r.out;
  EXPECT_EQ(probe_field(r.out, "nodeid"), mine.nodeid) << r.out;
  uint64_t fh = probe_field(r.out, "fh");
  EXPECT_NE(r.out.find("target=" + fs.fs().source() + "/f\n"), std::string::npos) << r.out;
  EXPECT_GT(fh, 2u) << r.out;
}

TEST_F(Track, FdInheritedOverFork) {
  int fd = open_on_mount("f");
  ASSERT_GE(fd, 0);
  FdFact parent{};
  ASSERT_TRUE(fd_fact(fd, &parent));
  pid_t child = fork();
  if (child == 0) {
    FdFact f{};
    _exit(fd_fact(fd, &f) && f.nodeid == parent.nodeid && f.mnt_id == parent.mnt_id &&
                  f.fh == parent.fh
              ? 0
              : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child does not see the inherited fd's fact";
  finesse_fd_fact gone{};
  EXPECT_FALSE(fd_entry(child, fd, &gone)) << "entry outlived the child";
  ::close(fd);
}

TEST_F(Track, CwdSetBeforeExec) {
  struct stat st;
  ASSERT_EQ(::stat(fs_->path("d").c_str(), &st), 0);
  CommandResult r = run_command({probe_binary(), "cwd"}, {}, fs_->mnt());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(probe_field(r.out, "mnt"), mnt_id_) << r.out;
  EXPECT_EQ(probe_field(r.out, "nodeid"), 1u) << r.out;
  r = run_command({"sh", "-c", "cd \"$0\" && exec \"$1\" cwd", fs_->path("d"), probe_binary()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(probe_field(r.out, "ino"), st.st_ino) << r.out;
  // Leaving the mount drops the fact.
  r = run_command(
      {"sh", "-c", "cd \"$0\" && cd / && exec \"$1\" cwd", fs_->path("d"), probe_binary()});
  EXPECT_NE(r.out.find("cwd none"), std::string::npos) << r.out;
}

TEST_F(Track, ClosedFdNumberReusedOnAnotherFsHasNoFact) {
  int fd = open_on_mount("f");
  ASSERT_GE(fd, 0);
  FdFact f{};
  ASSERT_TRUE(fd_fact(fd, &f));
  ::close(fd);
  int other = ::open("/proc/self/stat", O_RDONLY);
  ASSERT_EQ(other, fd) << "the lowest free number is reused";
  EXPECT_FALSE(fd_fact(other, &f));
  ::close(other);
  // A socket, which no tracked syscall creates, gets the number too.
  fd = open_on_mount("f");
  ASSERT_TRUE(fd_fact(fd, &f));
  ::close(fd);
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_EQ(sock, fd);
  EXPECT_FALSE(fd_fact(sock, &f));
  ::close(sock);
}

TEST_F(Track, Dup2OverTrackedFdAndDupsOfIt) {
  int fd = open_on_mount("f");
  int null = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  FdFact orig{}, f{};
  ASSERT_TRUE(fd_fact(fd, &orig));
  int copy = ::dup(fd);
  ASSERT_TRUE(fd_fact(copy, &f));
  EXPECT_EQ(f.nodeid, orig.nodeid);
  int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 100);
  ASSERT_GE(high, 100);
  ASSERT_TRUE(fd_fact(high, &f));
  EXPECT_EQ(f.fh, orig.fh);
  ASSERT_EQ(::dup3(fd, 200, O_CLOEXEC), 200);
  EXPECT_TRUE(fd_fact(200, &f));

  ASSERT_EQ(::dup2(null, fd), fd);  // over a tracked fd
  EXPECT_FALSE(fd_fact(fd, &f)) << "dup2 over a tracked fd left its entry";
  ASSERT_EQ(::dup2(null, 200), 200);
  EXPECT_FALSE(fd_fact(200, &f));
  for (int x : {fd, null, copy, high}) ::close(x);
  ::close(200);
}

TEST_F(Track, CloseRangeDropsEntries) {
  int a = ::fcntl(open_on_mount("f"), F_DUPFD, 300);
  ASSERT_GE(a, 300);
  int b = ::dup2(a, 301), c = ::dup2(a, 302), outside = ::dup2(a, 310);
  FdFact f{};
  ASSERT_TRUE(fd_fact(b, &f));
  ASSERT_EQ(::syscall(SYS_close_range, 300u, 302u, CLOSE_RANGE_CLOEXEC), 0);
  EXPECT_TRUE(fd_fact(c, &f)) << "CLOSE_RANGE_CLOEXEC closes nothing";
  ASSERT_EQ(::syscall(SYS_close_range, 300u, 302u, 0u), 0);
  for (int x : {a, b, c}) EXPECT_FALSE(fd_fact(x, &f)) << "close_range left fd " << x;
  EXPECT_TRUE(fd_fact(outside, &f)) << "an fd outside the range lost its entry";
  ::close(outside);
}

TEST_F(Track, ExecDropsCloseOnExecFds) {
  int keep = ::dup2(open_on_mount("f"), 40);
  int drop = ::open(fs_->path("f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_EQ(keep, 40);
  ASSERT_GE(drop, 0);
  std::string probe = probe_binary(), drop_s = std::to_string(drop);
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  pid_t child = fork();
  if (child == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    execl(probe.c_str(), probe.c_str(), "fd", "40", "fd", drop_s.c_str(), (char *)nullptr);
    _exit(127);
  }
  ::close(out[1]);
  std::string text;
  char buf[512];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof(buf))) > 0;) text.append(buf, size_t(n));
  ::close(out[0]);
  ::waitpid(child, nullptr, 0);
  EXPECT_NE(text.find("fd 40 mnt="), std::string::npos) << text;
  EXPECT_NE(text.find("fd " + drop_s + " none"), std::string::npos) << text;
  ::close(keep);
  ::close(drop);
}

TEST_F(Track, ProcessExitLeavesNoEntry) {
  int go[2], ready[2];
  ASSERT_EQ(::pipe(go), 0);
  ASSERT_EQ(::pipe(ready), 0);
  std::string dir = fs_->path("d"), file = fs_->path("f");
  pid_t child = fork();
  if (child == 0) {
    ::close(go[1]);  // so that the parent's close is our EOF
    int fd = ::open(file.c_str(), O_RDONLY);
    ::dup2(fd, 1000);
    if (::chdir(dir.c_str()) != 0) _exit(1);
    char c = 1;
    if (::write(ready[1], &c, 1) != 1 || ::read(go[0], &c, 1) < 0) _exit(1);
    _exit(0);
  }
  ::close(ready[1]);
  ::close(go[0]);
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  finesse_fd_fact f{};
  finesse_cwd_fact cwd{};
  EXPECT_TRUE(fd_entry(child, 1000, &f));
  EXPECT_TRUE(cwd_entry(child, &cwd));
  EXPECT_EQ(cwd.mnt_id, mnt_id_);
  ::close(go[1]);  // the child exits
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  EXPECT_FALSE(fd_entry(child, 1000, &f)) << "fd entry outlived its process";
  EXPECT_FALSE(cwd_entry(child, &cwd)) << "cwd entry outlived its process";
  ::close(ready[0]);
}

TEST_F(Track, DetachForgetsTheMountsEntries) {
  int fd = open_on_mount("f");
  FdFact f{};
  ASSERT_TRUE(fd_fact(fd, &f));
  fs_->detach();
  EXPECT_FALSE(fd_fact(fd, &f)) << "entries of a detached mount stay";
  ::close(fd);
}

// The client-side cost of one fact lookup (one bpf() syscall plus getpid()).
TEST_F(Track, LookupCost) {
  int fd = open_on_mount("f");
  FdFact f{};
  ASSERT_TRUE(fd_fact(fd, &f));
  constexpr int kRounds = 20000;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; i++) fd_fact(fd, &f);
  auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; i++) fd_fact(999, &f);  // a miss
  auto t2 = std::chrono::steady_clock::now();
  double hit = std::chrono::duration<double, std::micro>(t1 - t0).count() / kRounds;
  double miss = std::chrono::duration<double, std::micro>(t2 - t1).count() / kRounds;
  std::printf("fd_fact: %.2f us per hit, %.2f us per miss\n", hit, miss);
  RecordProperty("fd_fact_hit_us", std::to_string(hit));
  EXPECT_LT(hit, 50.0);
  ::close(fd);
}

}  // namespace
}  // namespace finesse::testing
