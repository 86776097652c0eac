// Error cases through the kernel FUSE path: every call must fail with the errno Linux
// file systems give. Some are decided by the VFS, most by the daemon's answers.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <climits>

#include "fs_fixture.h"
#include "fs_util.h"

namespace finesse::kernel_path {
namespace {

using ErrnoTest = MountedFsTest;

TEST_P(ErrnoTest, Enoent) {
  struct stat st;
  EXPECT_ERRNO(ENOENT, stat(p("missing").c_str(), &st));
  EXPECT_ERRNO(ENOENT, open(p("missing").c_str(), O_RDONLY));
  EXPECT_ERRNO(ENOENT, unlink(p("missing").c_str()));
  EXPECT_ERRNO(ENOENT, rmdir(p("missing").c_str()));
  EXPECT_ERRNO(ENOENT, rename(p("missing").c_str(), p("other").c_str()));
  EXPECT_ERRNO(ENOENT, mkdir(p("missing/child").c_str(), 0755));
  EXPECT_ERRNO(ENOENT, open(p("missing/child").c_str(), O_CREAT | O_WRONLY, 0644));
  EXPECT_ERRNO(ENOENT, link(p("missing").c_str(), p("new").c_str()));
  EXPECT_ERRNO(ENOENT, chmod(p("missing").c_str(), 0644));
  EXPECT_ERRNO(ENOENT, truncate(p("missing").c_str(), 0));
  char buffer[16];
  EXPECT_ERRNO(ENOENT, readlink(p("missing").c_str(), buffer, sizeof buffer));
  // A name that existed and was removed: no stale cache entry may answer for it.
  write_file(p("gone"), "x");
  ASSERT_OK(unlink(p("gone").c_str()));
  EXPECT_ERRNO(ENOENT, stat(p("gone").c_str(), &st));
}

TEST_P(ErrnoTest, Eexist) {
  write_file(p("file"), "x");
  ASSERT_OK(mkdir(p("dir").c_str(), 0755));
  EXPECT_ERRNO(EEXIST, mkdir(p("dir").c_str(), 0755));
  EXPECT_ERRNO(EEXIST, mkdir(p("file").c_str(), 0755));
  EXPECT_ERRNO(EEXIST, open(p("file").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644));
  EXPECT_ERRNO(EEXIST, open(p("dir").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644));
  EXPECT_ERRNO(EEXIST, link(p("file").c_str(), p("dir").c_str()));
  EXPECT_ERRNO(EEXIST, symlink("anything", p("file").c_str()));
  EXPECT_ERRNO(EEXIST, mknod(p("file").c_str(), S_IFIFO | 0644, 0));
  EXPECT_EQ(read_file(p("file")), "x") << "a failed create must not truncate";
}

TEST_P(ErrnoTest, Enotdir) {
  write_file(p("file"), "x");
  ASSERT_OK(mkdir(p("dir").c_str(), 0755));
  struct stat st;
  EXPECT_ERRNO(ENOTDIR, stat(p("file/x").c_str(), &st));
  EXPECT_ERRNO(ENOTDIR, mkdir(p("file/x").c_str(), 0755));
  EXPECT_ERRNO(ENOTDIR, open(p("file/x").c_str(), O_CREAT | O_WRONLY, 0644));
  EXPECT_ERRNO(ENOTDIR, rmdir(p("file").c_str()));
  EXPECT_ERRNO(ENOTDIR, open(p("file").c_str(), O_RDONLY | O_DIRECTORY));
  EXPECT_ERRNO(ENOTDIR, rename(p("dir").c_str(), p("file").c_str()));
  EXPECT_ERRNO(ENOTDIR, opendir(p("file").c_str()));
}

TEST_P(ErrnoTest, Eisdir) {
  ASSERT_OK(mkdir(p("dir").c_str(), 0755));
  write_file(p("file"), "x");
  EXPECT_ERRNO(EISDIR, open(p("dir").c_str(), O_WRONLY));
  EXPECT_ERRNO(EISDIR, open(p("dir").c_str(), O_RDWR));
  EXPECT_ERRNO(EISDIR, unlink(p("dir").c_str()));
  EXPECT_ERRNO(EISDIR, rename(p("file").c_str(), p("dir").c_str()));
  EXPECT_ERRNO(EISDIR, truncate(p("dir").c_str(), 0));
  const int fd = open(p("dir").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  char byte;
  EXPECT_ERRNO(EISDIR, read(fd, &byte, 1));
  close(fd);
}

TEST_P(ErrnoTest, Enotempty) {
  ASSERT_OK(mkdir(p("full").c_str(), 0755));
  write_file(p("full/f"), "x");
  ASSERT_OK(mkdir(p("other").c_str(), 0755));
  EXPECT_ERRNO(ENOTEMPTY, rmdir(p("full").c_str()));
  EXPECT_ERRNO(ENOTEMPTY, rename(p("other").c_str(), p("full").c_str()));
  // A directory that only holds a subdirectory is not empty either.
  ASSERT_OK(unlink(p("full/f").c_str()));
  ASSERT_OK(mkdir(p("full/sub").c_str(), 0755));
  EXPECT_ERRNO(ENOTEMPTY, rmdir(p("full").c_str()));
  EXPECT_OK(access(p("full/sub").c_str(), F_OK));
}

TEST_P(ErrnoTest, EnametoolongForLongNamesAndPaths) {
  const std::string longest(255, 'n');
  write_file(p(longest), "ok");  // NAME_MAX itself is fine
  EXPECT_EQ(read_file(p(longest)), "ok");
  EXPECT_EQ(list_dir(root()).count(longest), 1u);

  for (size_t length : {256u, 300u, 1000u}) {
    SCOPED_TRACE(length);
    const std::string name(length, 'n');
    struct stat st;
    EXPECT_ERRNO(ENAMETOOLONG, stat(p(name).c_str(), &st));
    EXPECT_ERRNO(ENAMETOOLONG, open(p(name).c_str(), O_CREAT | O_WRONLY, 0644));
    EXPECT_ERRNO(ENAMETOOLONG, mkdir(p(name).c_str(), 0755));
    EXPECT_ERRNO(ENAMETOOLONG, symlink("target", p(name).c_str()));
    EXPECT_ERRNO(ENAMETOOLONG, rename(p(longest).c_str(), p(name).c_str()));
    EXPECT_ERRNO(ENAMETOOLONG, link(p(longest).c_str(), p(name).c_str()));
    EXPECT_EQ(list_dir(root()).count(name), 0u) << "nothing may have been created";
  }
  // A whole path longer than PATH_MAX, made of valid components.
  std::string path = root();
  while (path.size() <= PATH_MAX) path += "/" + std::string(200, 'd');
  struct stat st;
  EXPECT_ERRNO(ENAMETOOLONG, stat(path.c_str(), &st));
  EXPECT_ERRNO(ENAMETOOLONG, mkdir(path.c_str(), 0755));
}

TEST_P(ErrnoTest, EloopForSymlinkLoopsAndNofollow) {
  ASSERT_OK(symlink("b", p("a").c_str()));
  ASSERT_OK(symlink("a", p("b").c_str()));
  ASSERT_OK(symlink("self", p("self").c_str()));
  struct stat st;
  EXPECT_ERRNO(ELOOP, stat(p("a").c_str(), &st));
  EXPECT_ERRNO(ELOOP, open(p("self").c_str(), O_RDONLY));
  EXPECT_ERRNO(ELOOP, open(p("a/x").c_str(), O_CREAT | O_WRONLY, 0644));
  EXPECT_OK(lstat(p("a").c_str(), &st));

  write_file(p("target"), "x");
  ASSERT_OK(symlink("target", p("link").c_str()));
  EXPECT_ERRNO(ELOOP, open(p("link").c_str(), O_RDONLY | O_NOFOLLOW));
  const int fd = open(p("target").c_str(), O_RDONLY | O_NOFOLLOW);
  EXPECT_GE(fd, 0) << "O_NOFOLLOW only refuses a symlink in the last component";
  close(fd);
}

TEST_P(ErrnoTest, EinvalForRenameIntoOwnSubtree) {
  ASSERT_OK(mkdir(p("d").c_str(), 0755));
  ASSERT_OK(mkdir(p("d/sub").c_str(), 0755));
  EXPECT_ERRNO(EINVAL, rename(p("d").c_str(), p("d/sub/d").c_str()));
  EXPECT_ERRNO(EINVAL, rename(p("d").c_str(), p("d/inside").c_str()));
  EXPECT_OK(access(p("d/sub").c_str(), F_OK));
  EXPECT_ERRNO(EINVAL, rmdir(p("d/.").c_str()));
  write_file(p("file"), "x");
  char buffer[16];
  EXPECT_ERRNO(EINVAL, readlink(p("file").c_str(), buffer, sizeof buffer));
}

TEST_P(ErrnoTest, ExdevAcrossMounts) {
  testing::MountedFs other(mount_options());
  write_file(p("f"), "x");
  ASSERT_OK(mkdir(p("d").c_str(), 0755));
  EXPECT_ERRNO(EXDEV, rename(p("f").c_str(), other.path("f").c_str()));
  EXPECT_ERRNO(EXDEV, rename(p("d").c_str(), other.path("d").c_str()));
  EXPECT_ERRNO(EXDEV, link(p("f").c_str(), other.path("f").c_str()));
  // And between the FUSE mount and the plain file system it sits on.
  testing::TempDir plain;
  EXPECT_ERRNO(EXDEV, rename(p("f").c_str(), plain.sub("f").c_str()));
  EXPECT_OK(access(p("f").c_str(), F_OK));
}

TEST_P(ErrnoTest, EpermForDirectoryHardLinks) {
  ASSERT_OK(mkdir(p("d").c_str(), 0755));
  EXPECT_ERRNO(EPERM, link(p("d").c_str(), p("d2").c_str()));
}

TEST_P(ErrnoTest, XattrErrors) {
  write_file(p("f"), "x");
  char buffer[64];
  errno = 0;
  const ssize_t rc = getxattr(p("f").c_str(), "user.missing", buffer, sizeof buffer);
  EXPECT_EQ(rc, -1);
  EXPECT_EQ(errno_name(errno), "ENODATA");
  EXPECT_ERRNO(ENODATA, removexattr(p("f").c_str(), "user.missing"));
  EXPECT_ERRNO(ENODATA, setxattr(p("f").c_str(), "user.missing", "v", 1, XATTR_REPLACE));
  ASSERT_OK(setxattr(p("f").c_str(), "user.present", "value", 5, 0));
  EXPECT_ERRNO(EEXIST, setxattr(p("f").c_str(), "user.present", "v", 1, XATTR_CREATE));
  EXPECT_ERRNO(ERANGE, getxattr(p("f").c_str(), "user.present", buffer, 2));
  EXPECT_ERRNO(ERANGE, listxattr(p("f").c_str(), buffer, 2));
  EXPECT_ERRNO(ENOENT, getxattr(p("missing").c_str(), "user.x", buffer, sizeof buffer));
}

INSTANTIATE_TEST_SUITE_P(Fs, ErrnoTest, ::testing::ValuesIn(all_fs()), param_label);

}  // namespace
}  // namespace finesse::kernel_path
