// Which way calls go: on an attached mount they are bypassed, everything the server must not
// or cannot answer goes to the kernel, and both ways give the kernel's answer.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <map>

#include "attached_fs.h"

namespace finesse::testing {
namespace {

class Routing : public ::testing::TestWithParam<FsKind> {
 protected:
  void SetUp() override {
    MountOptions o;
    o.fs = GetParam();
    fs_ = std::make_unique<AttachedFs>(o);
    ASSERT_EQ(::mkdir(fs_->path("d").c_str(), 0755), 0);
    int fd = ::open(fs_->path("d/f").c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "12345", 5), 5);
    ::close(fd);
    ASSERT_EQ(::symlink("f", fs_->path("d/lnk").c_str()), 0);
  }
  std::string p(const std::string &rel) { return fs_->path(rel); }
  std::unique_ptr<AttachedFs> fs_;
};

TEST_P(Routing, AttachedPathsAreBypassed) {
  struct stat st;
  ASSERT_EQ(finesse_stat(p("d/f").c_str(), &st), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  EXPECT_EQ(st.st_size, 5);
  struct stat k;
  ASSERT_EQ(::stat(p("d/f").c_str(), &k), 0);
  EXPECT_EQ(st.st_ino, k.st_ino);
  EXPECT_EQ(st.st_dev, k.st_dev);
  EXPECT_EQ(st.st_mode, k.st_mode);
  EXPECT_EQ(st.st_blksize, k.st_blksize);
  ASSERT_EQ(finesse_stat(fs_->mnt().c_str(), &st), 0);  // the mount root itself
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST_P(Routing, OtherPathsGoToTheKernel) {
  struct stat st;
  ASSERT_EQ(finesse_stat("/", &st), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_KERNEL);
  // Shares a prefix with the mount point but is another directory.
  std::string sibling = fs_->mnt() + "2";
  ASSERT_EQ(::mkdir(sibling.c_str(), 0755), 0);
  EXPECT_EQ(finesse_stat(sibling.c_str(), &st), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_KERNEL);
  ::rmdir(sibling.c_str());
}

// Attribute names outside `user.` go to the kernel without asking the server first, which
// would only decline them; but for the few the kernel hands the file system as they are
// (the SELinux label and the POSIX ACLs, which `ls -l` reads for every file): once the server
// saw the kernel ask for one, the bypass answers it, as the kernel does.
TEST_P(Routing, XattrsOutsideUserGoToTheKernelUntilItHandsThemToTheFileSystem) {
  char buf[64];
  ASSERT_GE(finesse_getxattr(p("d/f").c_str(), "user.none", buf, sizeof(buf)), -1);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  const auto op = static_cast<size_t>(wire::Op::kGetxattr);
  int kernel_errno = 0;  // of same_both_ways' kernel call
  auto same_both_ways = [&](const char *path, const char *name, size_t size) {
    errno = 0;
    ssize_t n = finesse_lgetxattr(path, name, size ? buf : nullptr, size);
    int err = errno;
    int route = finesse_last_route();
    char kbuf[64];
    errno = 0;
    ssize_t k = ::lgetxattr(path, name, size ? kbuf : nullptr, size);
    kernel_errno = errno;
    EXPECT_EQ(n, k) << name << " of " << path;
    if (n < 0) {  // (errno: only on failure)
      EXPECT_EQ(err, errno) << name << " of " << path;
    }
    if (n > 0 && size) {
      EXPECT_EQ(std::string(buf, n), std::string(kbuf, k)) << name;
    }
    return route;
  };
  const std::string f = p("d/f"), dir = p("d"), lnk = p("d/lnk");
  const char *forwarded[] = {"security.selinux", "system.posix_acl_access",
                             "system.posix_acl_default"};
  control::Stats before = fs_->stats();
  for (const char *name : {"trusted.x", "security.capability", "system.nfs4_acl"})
    EXPECT_EQ(same_both_ways(f.c_str(), name, sizeof(buf)), FINESSE_ROUTE_KERNEL) << name;
  // Before the kernel asked the file system for them (the first kernel call is same_both_ways'
  // own, after the bypass call): the kernel, without asking the server. A kernel that does
  // not ask for ACLs (Linux 6.1 without FUSE_POSIX_ACL: EOPNOTSUPP) keeps them.
  std::map<std::string, int> route_after;
  for (const char *name : forwarded) {
    EXPECT_EQ(same_both_ways(f.c_str(), name, sizeof(buf)), FINESSE_ROUTE_KERNEL) << name;
    route_after[name] = kernel_errno == EOPNOTSUPP ? FINESSE_ROUTE_KERNEL : FINESSE_ROUTE_BYPASS;
  }
  EXPECT_EQ(route_after["security.selinux"], FINESSE_ROUTE_BYPASS);
  control::Stats after = fs_->stats();
  EXPECT_EQ(after.fallback[op], before.fallback[op]);
  EXPECT_EQ(after.served[op], before.served[op]);
  // Then served, files and directories, sizes 0 and not; a symlink's ACLs and an ACL that
  // exists stay the kernel's.
  for (const char *name : forwarded) {
    for (size_t size : {size_t{0}, sizeof(buf)}) {
      EXPECT_EQ(same_both_ways(f.c_str(), name, size), route_after[name]) << name;
      EXPECT_EQ(same_both_ways(dir.c_str(), name, size), route_after[name]) << name;
    }
  }
  EXPECT_EQ(same_both_ways(lnk.c_str(), "system.posix_acl_access", 0), FINESSE_ROUTE_KERNEL);
  // A label of its own: the file system's value, or ERANGE, through both ways.
  const char label[] = "system_u:object_r:finesse_t:s0";
  ASSERT_EQ(::lsetxattr(f.c_str(), "security.selinux", label, sizeof(label), 0), 0);
  for (size_t size : {sizeof(buf), size_t{4}, size_t{0}})
    EXPECT_EQ(same_both_ways(f.c_str(), "security.selinux", size), FINESSE_ROUTE_BYPASS) << size;
  // user::rw-, user:nobody:r--, group::r--, mask::r--, other::r--, set in the passthrough's
  // source (the kernel refuses ACLs on a FUSE mount without FUSE_POSIX_ACL).
  const unsigned char acl[] = {2,    0,    0,    0,    1,    0,    6,    0,    0xff, 0xff, 0xff,
                               0xff, 2,    0,    4,    0,    0xfe, 0xff, 0,    0,    4,    0,
                               4,    0,    0xff, 0xff, 0xff, 0xff, 0x10, 0,    4,    0,    0xff,
                               0xff, 0xff, 0xff, 0x20, 0,    4,    0,    0xff, 0xff, 0xff, 0xff};
  const std::string src = fs_->fs().source();
  if (!src.empty()) {
    ASSERT_EQ(::setxattr((src + "/d/f").c_str(), "system.posix_acl_access", acl, sizeof(acl), 0),
              0);
    for (size_t size : {size_t{0}, sizeof(buf)})
      EXPECT_EQ(same_both_ways(f.c_str(), "system.posix_acl_access", size), FINESSE_ROUTE_KERNEL);
  }
}

TEST_P(Routing, SymlinksToFollowAndDotDotOutGoToTheKernel) {
  struct stat st;
  ASSERT_EQ(finesse_stat(p("d/lnk").c_str(), &st), 0);  // follows: kernel
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_KERNEL);
  EXPECT_EQ(st.st_size, 5);
  ASSERT_EQ(finesse_lstat(p("d/lnk").c_str(), &st), 0);  // does not follow: bypass
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  std::string mnt = fs_->mnt();
  std::string out = p("../" + mnt.substr(mnt.rfind('/') + 1) + "/d/f");
  ASSERT_EQ(finesse_stat(out.c_str(), &st), 0);  // `..` leaves the mount: kernel
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_KERNEL);
  ASSERT_EQ(finesse_stat(p("d/../d/./f").c_str(), &st), 0);  // `..` inside: bypass
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  EXPECT_EQ(st.st_size, 5);
}

TEST_P(Routing, RelativePathsAndDirfds) {
  char old[4096];
  ASSERT_NE(getcwd(old, sizeof(old)), nullptr);
  ASSERT_EQ(chdir(p("d").c_str()), 0);
  struct stat st;
  int rc = finesse_stat("f", &st);
  int route = finesse_last_route();
  ASSERT_EQ(chdir(old), 0);
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(route, FINESSE_ROUTE_BYPASS);
  int dfd = ::open(p("d").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dfd, 0);
  EXPECT_EQ(finesse_fstatat(dfd, "f", &st, 0), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  EXPECT_EQ(finesse_mkdirat(dfd, "sub", 0700), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  EXPECT_EQ(finesse_unlinkat(dfd, "sub", AT_REMOVEDIR), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  ::close(dfd);
}

TEST_P(Routing, ErrnoIsTheKernels) {
  struct stat st;
  errno = 0;
  EXPECT_EQ(finesse_stat(p("d/missing").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  EXPECT_EQ(finesse_stat(p("d/f/x").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOTDIR);
  EXPECT_EQ(finesse_mkdir(p("d").c_str(), 0755), -1);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(finesse_unlink(p("d").c_str()), -1);
  EXPECT_EQ(errno, EISDIR);
  std::string longname(300, 'x');
  EXPECT_EQ(finesse_mkdir(p("d/" + longname).c_str(), 0755), -1);
  int e = errno;
  EXPECT_EQ(::mkdir(p("d/" + longname).c_str(), 0755), -1);
  EXPECT_EQ(e, errno) << "ENAMETOOLONG as the kernel path says";
  // Another mount for EXDEV: rename across mounts is the kernel's.
  EXPECT_EQ(finesse_rename(p("d/f").c_str(), "/tmp/finesse-exdev-target"), -1);
  EXPECT_EQ(errno, EXDEV);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_KERNEL);
}

TEST_P(Routing, DetachedMountGoesToTheKernel) {
  struct stat st;
  ASSERT_EQ(finesse_stat(p("d/f").c_str(), &st), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  fs_->detach();
  ASSERT_EQ(finesse_stat(p("d/f").c_str(), &st), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_KERNEL);
}

// libfinesse_fuse.so in a file system it cannot serve (the test hook makes it one): one line
// on the daemon's stderr, the kernel path serves the mount, attach is refused clearly.
void expect_kernel_only(MountOptions o, const std::string &line, const std::string &refusal) {
  AttachedFs fs(o, /*attach=*/false);
  const std::string d = fs.path("d");
  ASSERT_EQ(::mkdir(d.c_str(), 0755), 0);
  struct stat st;
  ASSERT_EQ(::stat(d.c_str(), &st), 0);
  loader::Outcome out = loader::attach(fs.mnt());
  if (out.code == loader::kOk) loader::detach(fs.mnt());
  EXPECT_NE(out.code, loader::kOk) << out.message;
  EXPECT_NE(out.message.find(refusal), std::string::npos) << out.message;
  const std::string err = fs.fs().daemon_stderr();
  EXPECT_NE(err.find(line), std::string::npos) << err;
  EXPECT_EQ(err.find("libfinesse_fuse:"), err.rfind("libfinesse_fuse:")) << "one line: " << err;
  EXPECT_EQ(::rmdir(d.c_str()), 0);
  EXPECT_TRUE(fs.fs().daemon_alive());
}

// libfuse >= 3.17: fuse_session_new is an inline wrapper around fuse_session_new_versioned.
TEST(Unservable, SessionMadeByFuseSessionNewVersioned) {
  MountOptions o;
  o.env["LD_PRELOAD"] = fs_hook_lib();
  o.env["FINESSE_HOOK_VERSIONED"] = "1";
  expect_kernel_only(o, "libfinesse_fuse: the session mounted on", "no Finesse server");
}

// Replies that do not pass through the PLT (libfuse linked with -Bsymbolic-functions).
TEST(Unservable, RepliesAroundTheInterposition) {
  MountOptions o;
  o.env["LD_PRELOAD"] = fs_hook_lib();
  o.env["FINESSE_HOOK_DIRECT_REPLIES"] = "1";
  expect_kernel_only(o, "libfinesse_fuse: replies to kernel requests do not pass",
                     "replies do not pass through");
}

INSTANTIATE_TEST_SUITE_P(All, Routing,
                         ::testing::Values(FsKind::kMemfs, FsKind::kPassthrough, FsKind::kHighLevel),
                         [](const auto &i) { return fs_name(i.param); });

}  // namespace
}  // namespace finesse::testing
