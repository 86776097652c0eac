// Permission checks on a multi-user mount (-o default_permissions,allow_other): the root test
// process builds a tree, then forked children drop to other users (run_as) and probe it.
// Each child returns the errno of its probe (0 = success), so every check can really fail.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_fixture.h"
#include "fs_util.h"

namespace finesse::kernel_path {
namespace {

using testing::run_as;

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;
constexpr uid_t kOtherUser = 4321;  // owns a file in the sticky directory

int errno_of(long rc) {
  return rc < 0 ? errno : 0;
}

class PermissionsTest : public MountedFsTest {
 protected:
  testing::MountOptions mount_options() const override {
    auto opts = MountedFsTest::mount_options();
    opts.default_permissions = true;
    opts.allow_other = true;
    return opts;
  }

  void SetUp() override {
    MountedFsTest::SetUp();
    ASSERT_OK(mkdir(p("root_0755").c_str(), 0755));
    ASSERT_OK(mkdir(p("open_0777").c_str(), 0777));
    ASSERT_OK(mkdir(p("sticky").c_str(), 01777));
    write_file(p("sticky/theirs"), "theirs", 0666);
    ASSERT_OK(chown(p("sticky/theirs").c_str(), kOtherUser, kOtherUser));
    write_file(p("secret_0600"), "secret", 0600);
    write_file(p("public_0644"), "public", 0644);
    write_file(p("group_0640"), "group", 0640);
    ASSERT_OK(chown(p("group_0640").c_str(), 0, 5555));
    ASSERT_OK(mkdir(p("private_0700").c_str(), 0700));
    write_file(p("private_0700/inner"), "inner", 0644);
    write_file(p("shared_0666"), "shared", 0666);
  }

  // Runs fn as nobody:nogroup and returns its errno (0 = success).
  int as_nobody(const std::function<int()> &fn) { return run_as(fn, kNobody, kNogroup); }
};

TEST_P(PermissionsTest, OtherUsersCanReachTheMount) {
  const std::string mnt = root();
  EXPECT_EQ(as_nobody([&] { return errno_of(access(mnt.c_str(), R_OK | X_OK)); }), 0);
  EXPECT_EQ(as_nobody([&] {
              struct stat st;
              return errno_of(stat(mnt.c_str(), &st));
            }),
            0);
}

TEST_P(PermissionsTest, CannotCreateInARootOwned0755Directory) {
  const std::string file = p("root_0755/new"), dir = p("root_0755/newdir");
  EXPECT_EQ(as_nobody([&] { return errno_of(open(file.c_str(), O_CREAT | O_WRONLY, 0644)); }),
            EACCES);
  EXPECT_EQ(as_nobody([&] { return errno_of(mkdir(dir.c_str(), 0755)); }), EACCES);
  EXPECT_ERRNO(ENOENT, access(file.c_str(), F_OK));
  // Root, the owner, can (positive control).
  EXPECT_OK(mkdir(dir.c_str(), 0755));
}

TEST_P(PermissionsTest, CanCreateInA0777DirectoryAndOwnsTheResult) {
  const std::string file = p("open_0777/mine"), dir = p("open_0777/mydir");
  ASSERT_EQ(as_nobody([&] {
              const int fd = open(file.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0640);
              if (fd < 0) return errno;
              const bool wrote = write(fd, "hi", 2) == 2;
              close(fd);
              return wrote ? errno_of(mkdir(dir.c_str(), 0700)) : EIO;
            }),
            0);
  const struct stat st = stat_of(file);
  EXPECT_EQ(st.st_uid, kNobody) << "a new file belongs to its creator";
  EXPECT_EQ(st.st_gid, kNogroup);
  EXPECT_EQ(st.st_mode, S_IFREG | 0640u);
  EXPECT_EQ(stat_of(dir).st_uid, kNobody);
  EXPECT_EQ(read_file(file), "hi");
  if (kind() == FsKind::kPassthrough) {
    EXPECT_EQ(stat_of(fs_->source() + "/open_0777/mine").st_uid, kNobody)
        << "passthrough must create the source file as the caller";
  }
}

TEST_P(PermissionsTest, StickyDirectoryProtectsOtherUsersFiles) {
  const std::string theirs = p("sticky/theirs"), mine = p("sticky/mine");
  // Linux returns EPERM (not EACCES) for the sticky-bit rule.
  EXPECT_EQ(as_nobody([&] { return errno_of(unlink(theirs.c_str())); }), EPERM);
  EXPECT_EQ(as_nobody([&] { return errno_of(rename(theirs.c_str(), mine.c_str())); }), EPERM);
  EXPECT_OK(access(theirs.c_str(), F_OK));
  // The file itself is 0666: writing it is fine, only removing it is not.
  EXPECT_EQ(as_nobody([&] { return errno_of(truncate(theirs.c_str(), 1)); }), 0);
  // Positive control: one's own file in the same directory can be removed.
  EXPECT_EQ(as_nobody([&] {
              const int fd = open(mine.c_str(), O_CREAT | O_WRONLY, 0644);
              if (fd < 0) return errno;
              close(fd);
              return errno_of(unlink(mine.c_str()));
            }),
            0);
}

TEST_P(PermissionsTest, CannotChmodOrChownAFileItDoesNotOwn) {
  const std::string shared = p("shared_0666");
  EXPECT_EQ(as_nobody([&] { return errno_of(chmod(shared.c_str(), 0777)); }), EPERM);
  EXPECT_EQ(stat_of(shared).st_mode & 07777, 0666u);
  EXPECT_EQ(as_nobody([&] { return errno_of(chown(shared.c_str(), kNobody, kNogroup)); }), EPERM);
  // Positive control: chmod of its own file works; giving it away does not.
  const std::string own = p("open_0777/own");
  EXPECT_EQ(as_nobody([&] {
              const int fd = open(own.c_str(), O_CREAT | O_WRONLY, 0644);
              if (fd < 0) return errno;
              close(fd);
              if (chmod(own.c_str(), 0600) != 0) return errno;
              return chown(own.c_str(), 0, 0) == 0 ? 0 : errno;
            }),
            EPERM);
  EXPECT_EQ(stat_of(own).st_mode & 07777, 0600u);
}

TEST_P(PermissionsTest, CannotReadARoot0600File) {
  const std::string secret = p("secret_0600"), public_file = p("public_0644");
  EXPECT_EQ(as_nobody([&] { return errno_of(open(secret.c_str(), O_RDONLY)); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return errno_of(open(public_file.c_str(), O_RDONLY)); }), 0);
  EXPECT_EQ(as_nobody([&] { return errno_of(open(public_file.c_str(), O_WRONLY)); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return errno_of(truncate(public_file.c_str(), 0)); }), EACCES);
  EXPECT_EQ(read_file(public_file), "public");
}

TEST_P(PermissionsTest, CannotSearchA0700Directory) {
  const std::string dir = p("private_0700"), inner = p("private_0700/inner");
  EXPECT_EQ(as_nobody([&] {
              struct stat st;
              return errno_of(stat(inner.c_str(), &st));
            }),
            EACCES);
  EXPECT_EQ(as_nobody([&] { return errno_of(open(inner.c_str(), O_RDONLY)); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return opendir(dir.c_str()) == nullptr ? errno : 0; }), EACCES);
  // The directory itself is visible; only its contents are not.
  EXPECT_EQ(as_nobody([&] {
              struct stat st;
              return errno_of(stat(dir.c_str(), &st));
            }),
            0);
}

TEST_P(PermissionsTest, SupplementaryGroupGrantsGroupAccess) {
  const std::string file = p("group_0640");
  // uid 1234 reaches the file only through supplementary group 5555.
  EXPECT_EQ(run_as([&] { return errno_of(open(file.c_str(), O_RDONLY)); }, 1234, 1234, {5555}), 0);
  EXPECT_EQ(run_as([&] { return errno_of(open(file.c_str(), O_WRONLY)); }, 1234, 1234, {5555}),
            EACCES);
  EXPECT_EQ(run_as([&] { return errno_of(open(file.c_str(), O_RDONLY)); }, 1234, 1234, {}), EACCES);
}

TEST_P(PermissionsTest, OnlyTheOwnerMaySetExplicitTimes) {
  const std::string shared = p("shared_0666");
  // Anyone with write access may set the times to now ...
  EXPECT_EQ(as_nobody([&] { return errno_of(utimensat(AT_FDCWD, shared.c_str(), nullptr, 0)); }),
            0);
  // ... but only the owner may set arbitrary times.
  EXPECT_EQ(as_nobody([&] {
              const timespec times[2] = {{1, 0}, {1, 0}};
              return errno_of(utimensat(AT_FDCWD, shared.c_str(), times, 0));
            }),
            EPERM);
  EXPECT_NE(stat_of(shared).st_mtim.tv_sec, 1);
}

INSTANTIATE_TEST_SUITE_P(Fs, PermissionsTest, ::testing::ValuesIn(all_fs()), param_label);

// Without allow_other the kernel lets only the mounting user (root here) in.
class NoAllowOtherTest : public MountedFsTest {};

TEST_P(NoAllowOtherTest, OtherUsersGetEacces) {
  const std::string mnt = root();
  ASSERT_OK(chmod(mnt.c_str(), 0777));
  write_file(p("f"), "x", 0666);
  const std::string file = p("f");
  EXPECT_EQ(run_as([&] {
              struct stat st;
              return errno_of(stat(mnt.c_str(), &st));
            }),
            EACCES);
  EXPECT_EQ(run_as([&] { return errno_of(open(file.c_str(), O_RDONLY)); }), EACCES);
  EXPECT_EQ(run_as([&] { return opendir(mnt.c_str()) == nullptr ? errno : 0; }), EACCES);
  // Root, the mounting user, is let in.
  EXPECT_EQ(read_file(file), "x");
}

INSTANTIATE_TEST_SUITE_P(Fs, NoAllowOtherTest, ::testing::ValuesIn(all_fs()), param_label);

}  // namespace
}  // namespace finesse::kernel_path
