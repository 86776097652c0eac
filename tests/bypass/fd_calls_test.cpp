// Calls on an open fd (finesse_fstat, fchmod, fchown, ftruncate, futimens, fgetxattr,
// fstatfs): bypassed when the fd is on an attached mount and the call succeeds, with the
// kernel's answer; whatever the fd itself decides (its open mode, O_PATH, a reused number, a
// refusal the server cannot judge without the fd) goes to the kernel.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "attached_fs.h"

namespace finesse::testing {
namespace {

class FdCalls : public ::testing::TestWithParam<FsKind> {
 protected:
  void SetUp() override {
    // allow_other: RefusalsAreTheKernels acts as another user.
    fs_ = std::make_unique<AttachedFs>(mount_options(GetParam(), true, true));
    ASSERT_EQ(::mkdir(p("d").c_str(), 0755), 0);
    int fd = ::open(p("d/f").c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "12345", 5), 5);
    ::close(fd);
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
  }
  std::string p(const std::string &rel) { return fs_->path(rel); }
  int open_fd(const std::string &rel, int flags, mode_t mode = 0) {
    int fd = ::open(p(rel).c_str(), flags, mode);
    if (fd >= 0) fds_.push_back(fd);
    return fd;
  }
  std::unique_ptr<AttachedFs> fs_;
  std::vector<int> fds_;
};

#define EXPECT_ROUTE(r) EXPECT_EQ(finesse_last_route(), r)

TEST_P(FdCalls, SuccessfulCallsAreBypassedAndTheKernelSeesThem) {
  int fd = open_fd("d/f", O_RDWR);
  ASSERT_GE(fd, 0);
  struct stat st, k;
  ASSERT_EQ(finesse_fstat(fd, &st), 0);
  EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
  ASSERT_EQ(::fstat(fd, &k), 0);
  EXPECT_EQ(st.st_ino, k.st_ino);
  EXPECT_EQ(st.st_dev, k.st_dev);
  EXPECT_EQ(st.st_size, 5);

  ASSERT_EQ(finesse_fchmod(fd, 0600), 0);
  EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
  ASSERT_EQ(::fstat(fd, &k), 0);
  EXPECT_EQ(k.st_mode, S_IFREG | 0600u);

  ASSERT_EQ(finesse_fchown(fd, static_cast<uid_t>(-1), 1234), 0);
  EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
  ASSERT_EQ(::stat(p("d/f").c_str(), &k), 0);
  EXPECT_EQ(k.st_gid, 1234u);

  ASSERT_EQ(finesse_ftruncate(fd, 2), 0);
  EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
  ASSERT_EQ(::fstat(fd, &k), 0);
  EXPECT_EQ(k.st_size, 2);
  char buf[8] = {};
  EXPECT_EQ(::pread(fd, buf, sizeof(buf), 0), 2);
  EXPECT_STREQ(buf, "12");

  struct timespec times[2] = {{1000, 5}, {2000, 7}};
  ASSERT_EQ(finesse_futimens(fd, times), 0);
  EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
  ASSERT_EQ(::fstat(fd, &k), 0);
  EXPECT_EQ(k.st_atim.tv_sec, 1000);
  EXPECT_EQ(k.st_mtim.tv_sec, 2000);
  EXPECT_EQ(k.st_mtim.tv_nsec, 7);

  struct statfs sf, kf;
  ASSERT_EQ(finesse_fstatfs(fd, &sf), 0);
  EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
  ASSERT_EQ(::fstatfs(fd, &kf), 0);
  EXPECT_EQ(sf.f_type, kf.f_type);
  EXPECT_EQ(sf.f_bsize, kf.f_bsize);
  EXPECT_EQ(sf.f_namelen, kf.f_namelen);
}

// Where the kernel holds a file's attributes with a timeout, its fstat answers from them in
// about a microsecond: once the server said so, fstat goes to the kernel. Without kernel
// caching it is bypassed (the kernel would ask the daemon).
TEST_P(FdCalls, FstatIsTheKernelsWhereItCachesAttributes) {
  for (double timeout : {3600.0, 0.0}) {
    MountOptions o = mount_options(GetParam(), false, false);
    o.entry_timeout = o.attr_timeout = timeout;
    AttachedFs fs(o);
    std::string f = fs.path("f");
    int fd = ::open(f.c_str(), O_CREAT | O_RDWR, 0644);  // the kernel holds it, attributes too
    ASSERT_GE(fd, 0);
    struct stat st, k;
    ASSERT_EQ(finesse_stat(f.c_str(), &st), 0);  // the server's hint comes with an answer
    EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
    const auto op = static_cast<size_t>(wire::Op::kStat);
    const uint64_t served = fs.stats().served[op];
    ASSERT_EQ(finesse_fstat(fd, &st), 0);
    EXPECT_ROUTE(timeout > 0 ? FINESSE_ROUTE_KERNEL : FINESSE_ROUTE_BYPASS) << timeout;
    EXPECT_EQ(fs.stats().served[op], served + (timeout > 0 ? 0 : 1)) << timeout;
    ASSERT_EQ(::fstat(fd, &k), 0);
    EXPECT_EQ(st.st_ino, k.st_ino);
    EXPECT_EQ(st.st_size, k.st_size);
    ::close(fd);
  }
}

// The hint also comes with the welcome: a process whose first answers were no stats (a
// readlink here) sends its first fstat to the kernel's cached attributes all the same.
TEST_P(FdCalls, TheWelcomeSaysTheKernelCachesAttributes) {
  MountOptions o = mount_options(GetParam(), false, false);
  o.entry_timeout = o.attr_timeout = 3600.0;
  AttachedFs fs(o);
  std::string f = fs.path("f");
  int fd = ::open(f.c_str(), O_CREAT | O_RDWR, 0644);  // the kernel is given its attributes
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::symlink("f", fs.path("l").c_str()), 0);
  char buf[16];
  ASSERT_EQ(finesse_readlink(fs.path("l").c_str(), buf, sizeof(buf)), 1);  // connects
  EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
  const auto op = static_cast<size_t>(wire::Op::kStat);
  const uint64_t served = fs.stats().served[op];
  struct stat st;
  ASSERT_EQ(finesse_fstat(fd, &st), 0);
  EXPECT_ROUTE(FINESSE_ROUTE_KERNEL);
  EXPECT_EQ(fs.stats().served[op], served);
  ::close(fd);
}

TEST_P(FdCalls, XattrOfAnFdIsTheKernels) {
  int fd = open_fd("d/f", O_RDONLY);
  ASSERT_GE(fd, 0);
  char v[64];
  errno = 0;
  ssize_t k = ::fgetxattr(fd, "user.k", v, sizeof(v));
  int kerr = errno;
  errno = 0;
  ssize_t b = finesse_fgetxattr(fd, "user.k", v, sizeof(v));
  EXPECT_EQ(b, k);
  EXPECT_EQ(errno, kerr);
  if (kerr != ENODATA) GTEST_SKIP() << "this file system has no user xattrs: " << strerror(kerr);
  EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);  // ENODATA is an answer, not a refusal
  ASSERT_EQ(::setxattr(p("d/f").c_str(), "user.k", "val", 3, 0), 0);
  ASSERT_EQ(finesse_fgetxattr(fd, "user.k", v, sizeof(v)), 3);
  EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
  EXPECT_EQ(std::string(v, 3), "val");
  EXPECT_EQ(finesse_fgetxattr(fd, "user.k", v, 1), -1);
  EXPECT_EQ(errno, ERANGE);
}

TEST_P(FdCalls, WhatTheFdDecidesIsLeftToTheKernel) {
  int ro = open_fd("d/f", O_RDONLY);
  ASSERT_GE(ro, 0);
  EXPECT_EQ(finesse_ftruncate(ro, 1), -1);  // not open for writing
  EXPECT_EQ(errno, EINVAL);
  EXPECT_ROUTE(FINESSE_ROUTE_KERNEL);
  int rw = open_fd("d/f", O_RDWR);
  EXPECT_EQ(finesse_ftruncate(rw, -1), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_ROUTE(FINESSE_ROUTE_KERNEL);

  int opath = open_fd("d/f", O_PATH);
  ASSERT_GE(opath, 0);
  EXPECT_EQ(finesse_fchmod(opath, 0600), -1);
  EXPECT_EQ(errno, EBADF);
  EXPECT_ROUTE(FINESSE_ROUTE_KERNEL);
  EXPECT_EQ(finesse_fgetxattr(opath, "user.k", nullptr, 0), -1);
  EXPECT_EQ(errno, EBADF);
  struct stat st;
  ASSERT_EQ(finesse_fstat(opath, &st), 0);  // fstat of an O_PATH fd is fine
  EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
  struct stat k;
  ASSERT_EQ(::stat(p("d/f").c_str(), &k), 0);
  EXPECT_EQ(k.st_mode, S_IFREG | 0644u) << "nothing was changed";
  EXPECT_EQ(k.st_size, 5);
}

TEST_P(FdCalls, ARemovedOrRenamedFileIsTheKernels) {
  int fd = open_fd("d/f", O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::rename(p("d/f").c_str(), p("d/g").c_str()), 0);
  ASSERT_GE(open_fd("d/f", O_CREAT | O_WRONLY | O_EXCL), 0);  // another file, mode 0
  struct stat st, k;
  ASSERT_EQ(finesse_fstat(fd, &st), 0);  // the path now names another file: not that one
  ASSERT_EQ(::fstat(fd, &k), 0);
  EXPECT_EQ(st.st_ino, k.st_ino);
  EXPECT_EQ(st.st_size, 5);
  ASSERT_EQ(finesse_fchmod(fd, 0640), 0);
  ASSERT_EQ(::stat(p("d/g").c_str(), &k), 0);
  EXPECT_EQ(k.st_mode, S_IFREG | 0640u);
  ASSERT_EQ(::stat(p("d/f").c_str(), &k), 0);
  EXPECT_EQ(k.st_mode & 0777, 0u) << "the file now at the old path is untouched";
  ASSERT_EQ(::unlink(p("d/g").c_str()), 0);
  errno = 0;
  int krc = ::fstat(fd, &k);  // hlfs answers from its hidden copy, or not at all
  int kerr = errno;
  errno = 0;
  EXPECT_EQ(finesse_fstat(fd, &st), krc);
  EXPECT_EQ(errno, kerr);
  EXPECT_ROUTE(FINESSE_ROUTE_KERNEL);
  if (krc == 0) {
    EXPECT_EQ(st.st_nlink, k.st_nlink);
  }
}

TEST_P(FdCalls, AReusedFdNumberIsNotMistakenForTheOldFile) {
  int fd = open_fd("d/f", O_RDONLY);
  ASSERT_GE(fd, 0);
  struct stat st;
  ASSERT_EQ(finesse_fstat(fd, &st), 0);
  EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
  TempDir other;
  int fd2 = ::open((other.path() + "/x").c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(fd2, 0);
  ASSERT_EQ(::dup2(fd2, fd), fd);
  ::close(fd2);
  ASSERT_EQ(finesse_fchmod(fd, 0604), 0);
  EXPECT_ROUTE(FINESSE_ROUTE_KERNEL);
  struct stat k;
  ASSERT_EQ(::stat((other.path() + "/x").c_str(), &k), 0);
  EXPECT_EQ(k.st_mode, S_IFREG | 0604u);
  ASSERT_EQ(::stat(p("d/f").c_str(), &k), 0);
  EXPECT_EQ(k.st_mode, S_IFREG | 0644u);
}

// The server cannot see the fd: a refusal by its path rules (no search permission on the way,
// not the owner) is the kernel's to make, and the kernel may well allow the call.
TEST_P(FdCalls, RefusalsAreTheKernels) {
  ASSERT_EQ(::mkdir(p("private").c_str(), 0700), 0);
  int fd = ::open(p("private/mine").c_str(), O_CREAT | O_RDWR, 0666);
  ASSERT_GE(fd, 0);
  fds_.push_back(fd);
  ASSERT_EQ(::fchown(fd, 65534, 65534), 0);
  int rofd = open_fd("d/f", O_RDONLY);  // root's file
  ASSERT_GE(rofd, 0);
  int rc = run_as([&] {
    struct stat st;
    if (finesse_fstat(fd, &st) != 0) return 10 + errno;  // no search permission on the way
    if (st.st_uid != 65534) return 1;
    if (finesse_fchmod(fd, 0600) != 0) return 2;                       // but the owner
    if (finesse_ftruncate(fd, 3) != 0) return 3;
    if (finesse_fchmod(rofd, 0666) != -1 || errno != EPERM) return 4;  // not the owner
    if (finesse_last_route() != FINESSE_ROUTE_KERNEL) return 5;
    return 0;
  });
  EXPECT_EQ(rc, 0);
  struct stat k;
  ASSERT_EQ(::fstat(fd, &k), 0);
  EXPECT_EQ(k.st_mode, S_IFREG | 0600u);
  EXPECT_EQ(k.st_size, 3);
  ASSERT_EQ(::stat(p("d/f").c_str(), &k), 0);
  EXPECT_EQ(k.st_mode, S_IFREG | 0644u);
}

// Without kernel caching fstat is served by the fd's node (wire::kByNode): no path to walk
// and no fact needed, so a file moved away or unlinked while open is served too, with the
// kernel's answer; fchmod, fchown, ftruncate and futimens likewise.
TEST(FdCallsByNode, FstatOfAMovedOrUnlinkedFileIsServedByItsNode) {
  for (FsKind kind : {FsKind::kMemfs, FsKind::kPassthrough}) {
    MountOptions o = mount_options(kind, true, false);
    o.entry_timeout = 0;
    o.attr_timeout = 0;
    AttachedFs fs(o);
    const std::string f = fs.path("f"), g = fs.path("g");
    int fd = ::open(f.c_str(), O_CREAT | O_RDWR, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "12345", 5), 5);
    struct stat st, k;
    uint64_t served = fs.served_total();
    ASSERT_EQ(finesse_fstat(fd, &st), 0);
    EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
    EXPECT_EQ(st.st_size, 5);
    ASSERT_EQ(::rename(f.c_str(), g.c_str()), 0);
    ASSERT_EQ(::mknod(f.c_str(), S_IFREG | 0600, 0), 0);  // another file at the old path
    ASSERT_EQ(finesse_fstat(fd, &st), 0);
    EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
    ASSERT_EQ(::fstat(fd, &k), 0);
    EXPECT_EQ(st.st_ino, k.st_ino);
    EXPECT_EQ(st.st_size, 5);
    ASSERT_EQ(::unlink(g.c_str()), 0);
    ASSERT_EQ(finesse_fstat(fd, &st), 0);
    EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
    ASSERT_EQ(::fstat(fd, &k), 0);
    EXPECT_EQ(st.st_nlink, k.st_nlink);
    EXPECT_EQ(st.st_nlink, 0u);
    EXPECT_EQ(st.st_ino, k.st_ino);
    EXPECT_EQ(st.st_mode, k.st_mode);
    EXPECT_EQ(st.st_dev, k.st_dev);
    EXPECT_EQ(fs.served_total() - served, 3u);
    // fgetxattr and fstatfs by node too: the unlinked file has no path to go by.
    char v[16];
    errno = 0;
    EXPECT_EQ(finesse_fgetxattr(fd, "user.none", v, sizeof(v)), -1);
    EXPECT_EQ(errno, ENODATA);
    EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
    struct statfs sf, kf;
    ASSERT_EQ(finesse_fstatfs(fd, &sf), 0);
    EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
    ASSERT_EQ(::fstatfs(fd, &kf), 0);
    EXPECT_EQ(sf.f_type, kf.f_type);
    EXPECT_EQ(sf.f_bsize, kf.f_bsize);
    // And the fd's other calls, on the unlinked file, as the kernel sees them after.
    ASSERT_EQ(finesse_fchmod(fd, 0640), 0);
    EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
    ASSERT_EQ(finesse_fchown(fd, static_cast<uid_t>(-1), 1234), 0);
    EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
    ASSERT_EQ(finesse_ftruncate(fd, 2), 0);
    EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
    struct timespec times[2] = {{1000, 5}, {2000, 7}};
    ASSERT_EQ(finesse_futimens(fd, times), 0);
    EXPECT_ROUTE(FINESSE_ROUTE_BYPASS);
    ASSERT_EQ(::fstat(fd, &k), 0);
    EXPECT_EQ(k.st_mode, S_IFREG | 0640u);
    EXPECT_EQ(k.st_gid, 1234u);
    EXPECT_EQ(k.st_size, 2);
    EXPECT_EQ(k.st_mtim.tv_sec, 2000);
    EXPECT_EQ(k.st_mtim.tv_nsec, 7);
    ASSERT_EQ(::stat(f.c_str(), &k), 0);
    EXPECT_EQ(k.st_mode, S_IFREG | 0600u) << "the file now at the old path is untouched";
    // What the fd itself decides stays the kernel's: ftruncate of a read-only fd.
    int ro = ::open(f.c_str(), O_RDONLY);
    ASSERT_GE(ro, 0);
    errno = 0;
    EXPECT_EQ(finesse_ftruncate(ro, 0), -1);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_ROUTE(FINESSE_ROUTE_KERNEL);
    ::close(ro);
    ::close(fd);
  }
}

INSTANTIATE_TEST_SUITE_P(All, FdCalls,
                         ::testing::Values(FsKind::kMemfs, FsKind::kPassthrough, FsKind::kHighLevel),
                         [](const auto &i) { return fs_name(i.param); });

}  // namespace
}  // namespace finesse::testing
