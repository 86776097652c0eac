// The same seeded random sequence of operations through the bypass and through the kernel,
// on twin trees of one mount: every result, errno and the final trees must be identical.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <tuple>
#include <vector>

#include "attached_fs.h"
#include "op_pair.h"

namespace finesse::testing {
namespace {

// Random operations per sequence: FINESSE_DIFF_OPS, default 10,000 (the VM suite runs fewer:
// vm-tests/kernels.json, guest env).
const int kOps = [] {
  const char *e = getenv("FINESSE_DIFF_OPS");
  int n = e ? atoi(e) : 0;
  return n > 0 ? n : 10000;
}();

// Runs the sequence; returns the number of mismatches (printing the first ones).
int run_sequence(const std::string &a, const std::string &b, bool root, uint32_t seed,
                 int *bypassed) {
  std::mt19937 rng(seed);
  int mismatches = 0;
  const char *trace = getenv("FINESSE_DIFF_TRACE");  // print every op whose text has this
  *bypassed = 0;
  for (int i = 0; i < kOps; i++) {
    RandomOp op = run_random_op(rng, a, b, root);
    if (op.bypassed) ++*bypassed;
    if (trace && op.text.find(trace) != std::string::npos)
      fprintf(stderr, "trace %d %s: bypass %ld/%d [%s] kernel %ld/%d [%s]\n", i, op.text.c_str(),
              op.bypass.rc, op.bypass.err, op.bypass.data.c_str(), op.kernel.rc, op.kernel.err,
              op.kernel.data.c_str());
    if (!(op.bypass == op.kernel)) {
      if (++mismatches <= 10)
        fprintf(stderr, "op %d %s: bypass rc=%ld errno=%d [%s] kernel rc=%ld errno=%d [%s]\n", i,
                op.text.c_str(), op.bypass.rc, op.bypass.err, op.bypass.data.c_str(),
                op.kernel.rc, op.kernel.err, op.kernel.data.c_str());
    }
  }
  std::string ta = describe_tree(a), tb = describe_tree(b);
  if (ta != tb) {
    fprintf(stderr, "final trees differ:\n--- bypass\n%s--- kernel\n%s", ta.c_str(), tb.c_str());
    mismatches++;
  }
  return mismatches;
}

using Param = std::tuple<FsKind, bool /*default_permissions*/, bool /*as root*/>;

class Differential : public ::testing::TestWithParam<Param> {};

TEST_P(Differential, SameAnswersBothWays) {
  auto [kind, dp, root] = GetParam();
  AttachedFs fs(mount_options(kind, dp, true));
  std::string a, b;
  ASSERT_TRUE(build_twin_trees(fs.mnt(), &a, &b));
  uint32_t seed = 12345u + (dp ? 1 : 0) + (root ? 2 : 0);
  if (root) {
    int bypassed = 0;
    EXPECT_EQ(run_sequence(a, b, true, seed, &bypassed), 0);
    EXPECT_GT(bypassed, kOps / 2) << "most calls must really take the bypass";
  } else {
    int status = run_as([&] {
      int bypassed = 0;
      int m = run_sequence(a, b, false, seed, &bypassed);
      if (m) return 1;
      return bypassed > kOps / 3 ? 0 : 2;  // nobody is refused a lot; still mostly bypassed
    });
    EXPECT_EQ(status, 0) << "1: mismatches (see stderr), 2: too few calls bypassed";
  }
  EXPECT_GT(fs.served_total(), 0u);
}

// Symlink targets of a page and more (a file system may answer anything; no local one can
// store them): the kernel takes at most PAGE_SIZE - 1 bytes and fails the call with EIO
// otherwise. The bypass must answer the same, and copy nothing but the target.
TEST(Readlink, OverLongTargetsAsTheKernel) {
  MountOptions o;
  o.binary = bin_dir() + "/finesse-longlink-test";
  AttachedFs fs(o);
  for (const char *link : {"long", "edge", "page"}) {
    for (size_t size : {size_t{6000}, size_t{4096}, size_t{10}}) {
      SCOPED_TRACE(std::string(link) + " into " + std::to_string(size));
      std::string p = fs.path(link);
      std::vector<char> kbuf(size + 64, '#'), bbuf(size + 64, '#');
      errno = 0;
      ssize_t k = readlink(p.c_str(), kbuf.data(), size);
      int kerr = k < 0 ? errno : 0;
      errno = 0;
      ssize_t b = finesse_readlink(p.c_str(), bbuf.data(), size);
      int berr = b < 0 ? errno : 0;
      EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
      EXPECT_EQ(b, k);
      EXPECT_EQ(berr, kerr) << strerror(berr) << " vs the kernel's " << strerror(kerr);
      EXPECT_EQ(bbuf, kbuf) << "bytes other than the kernel's";
    }
  }
  EXPECT_GT(fs.served_total(), 0u);
}

// On a writeback-cache mount the kernel owns a regular file's size and times (it keeps them
// over what the file system says: fuse_change_attributes); after a write through the kernel
// whose pages are still dirty, the file system has not even seen the data. The stat family
// through the bypass must answer what the kernel answers.
TEST(WritebackCache, StatAfterKernelWriteIsTheKernels) {
  MountOptions o;
  o.binary = bin_dir() + "/finesse-longlink-test";
  o.env["FINESSE_TEST_WRITEBACK"] = "1";
  AttachedFs fs(o);
  std::string f = fs.path("file");
  int fd = open(f.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  std::string data(10000, 'w');
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  struct stat k, b;
  ASSERT_EQ(stat(f.c_str(), &k), 0);
  ASSERT_EQ(k.st_size, 10000);
  ASSERT_EQ(finesse_stat(f.c_str(), &b), 0);
  EXPECT_EQ(b.st_size, k.st_size) << "stat";
  EXPECT_EQ(b.st_mtim.tv_sec, k.st_mtim.tv_sec);
  EXPECT_EQ(b.st_mtim.tv_nsec, k.st_mtim.tv_nsec);
  ASSERT_EQ(finesse_fstat(fd, &b), 0);
  EXPECT_EQ(b.st_size, k.st_size) << "fstat";
  struct statx x {};
  ASSERT_EQ(finesse_statx(AT_FDCWD, f.c_str(), 0, STATX_BASIC_STATS, &x), 0);
  EXPECT_EQ(x.stx_size, static_cast<uint64_t>(k.st_size)) << "statx";
  EXPECT_EQ(x.stx_mtime.tv_nsec, static_cast<uint32_t>(k.st_mtim.tv_nsec));
  close(fd);
}

// st_blksize as the kernel reports it: 1 << ilog2 of the file system's, or the super
// block's block size (a page) when it gives 0 (fs/fuse/inode.c).
TEST(Blksize, AsTheKernelReportsIt) {
  MountOptions o;
  o.binary = bin_dir() + "/finesse-longlink-test";
  AttachedFs fs(o);
  for (const char *name : {"", "edge"}) {
    SCOPED_TRACE(name);
    std::string p = fs.path(name);
    struct stat k, b;
    ASSERT_EQ(lstat(p.c_str(), &k), 0);
    ASSERT_EQ(finesse_lstat(p.c_str(), &b), 0);
    EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
    EXPECT_EQ(b.st_blksize, k.st_blksize);
    struct statx x {};
    ASSERT_EQ(finesse_statx(AT_FDCWD, p.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &x), 0);
    EXPECT_EQ(x.stx_blksize, static_cast<uint32_t>(k.st_blksize));
  }
}

// access(X_OK) of a regular file on a noexec mount: EACCES whoever asks and whatever its mode
// (do_faccessat checks path_noexec before the permission bits); directories are searched.
TEST(Access, ExecOnNoexecMountAsTheKernel) {
  for (bool dp : {true, false}) {
    SCOPED_TRACE(dp ? "default_permissions" : "no default_permissions");
    MountOptions o = mount_options(FsKind::kMemfs, dp, true);
    o.extra_args = {"-o", "noexec"};
    AttachedFs fs(o);
    ASSERT_EQ(mknod(fs.path("f").c_str(), S_IFREG | 0755, 0), 0);
    ASSERT_EQ(chmod(fs.path("f").c_str(), 0755), 0);
    ASSERT_EQ(mkdir(fs.path("d").c_str(), 0755), 0);
    for (const char *name : {"f", "d"}) {
      for (int mode : {X_OK, R_OK | X_OK, R_OK, F_OK}) {
        SCOPED_TRACE(std::string(name) + " mode " + std::to_string(mode));
        std::string p = fs.path(name);
        errno = 0;
        int k = access(p.c_str(), mode);
        int kerr = k != 0 ? errno : 0;
        errno = 0;
        int b = finesse_access(p.c_str(), mode);
        int berr = b != 0 ? errno : 0;
        EXPECT_EQ(b, k);
        EXPECT_EQ(berr, kerr);
      }
    }
  }
}

// Growing a file past the caller's RLIMIT_FSIZE: EFBIG and SIGXFSZ to the caller (the
// kernel's inode_newsize_ok), through the bypass as through the kernel; below it, served.
TEST(Truncate, PastFileSizeLimitAsTheKernel) {
  AttachedFs fs(mount_options(FsKind::kMemfs, true, true));
  std::string a = fs.path("a"), b = fs.path("b");
  for (const std::string &p : {a, b}) ASSERT_EQ(mknod(p.c_str(), S_IFREG | 0644, 0), 0);
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    static volatile sig_atomic_t xfsz = 0;
    signal(SIGXFSZ, [](int) { xfsz = xfsz + 1; });
    rlimit rl{1000, RLIM_INFINITY};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(10);
    errno = 0;
    int k = truncate(a.c_str(), 5000);
    int kerr = errno, ksig = xfsz;
    xfsz = 0;
    errno = 0;
    int r = finesse_truncate(b.c_str(), 5000);
    int berr = errno, bsig = xfsz;
    if (k != -1 || kerr != EFBIG || ksig != 1) _exit(11);  // the kernel's answer, as expected
    if (r != k || berr != kerr) _exit(20);
    if (bsig != ksig) _exit(21);
    if (finesse_truncate(b.c_str(), 900) != 0 || finesse_last_route() != FINESSE_ROUTE_BYPASS)
      _exit(22);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1x: setup, 20: rc/errno differ, 21: no SIGXFSZ, 22: a "
                                       "truncate below the limit was not bypassed";
  struct stat st;
  ASSERT_EQ(stat(b.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 900);
}

// truncate(2) of a file that is being executed: ETXTBSY, as the kernel answers.
TEST(Truncate, RunningExecutableAsTheKernel) {
  AttachedFs fs(mount_options(FsKind::kMemfs, true, true));
  std::string exe = fs.path("sleep");
  ASSERT_EQ(run_command({"cp", "/bin/sleep", exe}).status, 0);
  ASSERT_EQ(chmod(exe.c_str(), 0755), 0);
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    execl(exe.c_str(), "sleep", "60", nullptr);
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  // Wait until it runs the binary (its exe link names it).
  std::string link = "/proc/" + std::to_string(pid) + "/exe";
  bool running = false;
  for (int i = 0; i < 10000 && !running; i++) {
    char buf[4096] = {};
    running = readlink(link.c_str(), buf, sizeof(buf) - 1) > 0 && exe == buf;
    if (!running) usleep(1000);
  }
  errno = 0;
  int k = truncate(exe.c_str(), 0);
  int kerr = errno;
  errno = 0;
  int b = finesse_truncate(exe.c_str(), 0);
  int berr = errno;
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  ASSERT_TRUE(running);
  EXPECT_EQ(k, -1);
  EXPECT_EQ(kerr, ETXTBSY);
  EXPECT_EQ(b, k);
  EXPECT_EQ(berr, kerr);
}

// statx(AT_STATX_FORCE_SYNC) asks the file system even while cached attributes are valid
// (fuse_update_get_attr); the file here changes behind the caches' back (in the source).
TEST(Statx, ForceSyncReachesTheFileSystem) {
  MountOptions o = mount_options(FsKind::kPassthrough, true, true);
  o.attr_timeout = 60;
  o.entry_timeout = 60;
  AttachedFs fs(o);
  std::string f = fs.path("f");
  ASSERT_EQ(mknod(f.c_str(), S_IFREG | 0644, 0), 0);
  struct stat st;
  ASSERT_EQ(finesse_stat(f.c_str(), &st), 0);  // cached by the server now, for 60 s
  ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  ASSERT_EQ(st.st_size, 0);
  ASSERT_EQ(truncate((fs.fs().source() + "/f").c_str(), 777), 0);
  struct statx k {};
  struct statx b {};
  ASSERT_EQ(finesse_statx(AT_FDCWD, f.c_str(), AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &b), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  ASSERT_EQ(statx(AT_FDCWD, f.c_str(), AT_STATX_FORCE_SYNC, STATX_BASIC_STATS, &k), 0);
  ASSERT_EQ(k.stx_size, 777u);
  EXPECT_EQ(b.stx_size, k.stx_size);
}

std::string name(const ::testing::TestParamInfo<Param> &i) {
  return fs_name(std::get<0>(i.param)) + (std::get<1>(i.param) ? "_dp" : "_nodp") +
         (std::get<2>(i.param) ? "_root" : "_nobody");
}

INSTANTIATE_TEST_SUITE_P(All, Differential,
                         ::testing::Combine(::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                                            ::testing::Bool(), ::testing::Bool()),
                         name);

}  // namespace
}  // namespace finesse::testing
