// Attribute changes through the kernel FUSE path: chmod, chown, truncate, utimensat.
#include <fcntl.h>
#include <unistd.h>

#include "fs_fixture.h"
#include "fs_util.h"

namespace finesse::kernel_path {
namespace {

using AttributesTest = MountedFsTest;

TEST_P(AttributesTest, ChmodChangesModeAndCtimeButNotMtime) {
  write_file(p("f"), "x", 0644);
  const struct stat old_st = stat_of(p("f"));
  let_time_pass();
  ASSERT_OK(chmod(p("f").c_str(), 0751));
  const struct stat st = stat_of(p("f"));
  EXPECT_EQ(st.st_mode, S_IFREG | 0751u);
  EXPECT_TRUE(before(old_st.st_ctim, st.st_ctim)) << "chmod must move ctime";
  EXPECT_TRUE(same_time(old_st.st_mtim, st.st_mtim)) << "chmod must not move mtime";

  ASSERT_OK(chmod(p("f").c_str(), 04755));  // setuid bit kept as root set it
  EXPECT_EQ(stat_of(p("f")).st_mode, S_IFREG | 04755u);

  ASSERT_OK(mkdir(p("d").c_str(), 0700));
  ASSERT_OK(chmod(p("d").c_str(), 01777));
  EXPECT_EQ(stat_of(p("d")).st_mode, S_IFDIR | 01777u);
}

TEST_P(AttributesTest, FchmodOnAnOpenFile) {
  const int fd = open(p("f").c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_OK(fchmod(fd, 0604));
  struct stat st;
  ASSERT_OK(fstat(fd, &st));
  EXPECT_EQ(st.st_mode & 07777, 0604u);
  close(fd);
  EXPECT_EQ(stat_of(p("f")).st_mode & 07777, 0604u);
}

TEST_P(AttributesTest, ChownAsRoot) {
  write_file(p("f"), "x");
  const struct stat old_st = stat_of(p("f"));
  let_time_pass();
  ASSERT_OK(chown(p("f").c_str(), 1234, 5678));
  struct stat st = stat_of(p("f"));
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_TRUE(before(old_st.st_ctim, st.st_ctim)) << "chown must move ctime";

  ASSERT_OK(chown(p("f").c_str(), static_cast<uid_t>(-1), 42));  // -1: leave unchanged
  st = stat_of(p("f"));
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 42u);

  // lchown changes the link itself, chown follows it.
  ASSERT_OK(symlink("f", p("link").c_str()));
  ASSERT_OK(lchown(p("link").c_str(), 777, 888));
  EXPECT_EQ(lstat_of(p("link")).st_uid, 777u);
  EXPECT_EQ(stat_of(p("f")).st_uid, 1234u);
  ASSERT_OK(chown(p("link").c_str(), 99, 99));
  EXPECT_EQ(stat_of(p("f")).st_uid, 99u);
  EXPECT_EQ(lstat_of(p("link")).st_uid, 777u);
}

TEST_P(AttributesTest, TruncateGrowsWithZerosAndShrinks) {
  write_file(p("f"), "0123456789");
  const struct stat old_st = stat_of(p("f"));
  let_time_pass();
  ASSERT_OK(truncate(p("f").c_str(), 4));
  struct stat st = stat_of(p("f"));
  EXPECT_EQ(st.st_size, 4);
  EXPECT_EQ(read_file(p("f")), "0123");
  EXPECT_TRUE(before(old_st.st_mtim, st.st_mtim)) << "truncate must move mtime";
  EXPECT_TRUE(before(old_st.st_ctim, st.st_ctim)) << "truncate must move ctime";

  ASSERT_OK(truncate(p("f").c_str(), 100000));
  EXPECT_EQ(stat_of(p("f")).st_size, 100000);
  const std::string grown = read_file(p("f"));
  ASSERT_EQ(grown.size(), 100000u);
  EXPECT_EQ(grown.substr(0, 4), "0123");
  EXPECT_EQ(grown.find_first_not_of('\0', 4), std::string::npos) << "the hole must read as zeros";

  const int fd = open(p("f").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_OK(ftruncate(fd, 2));
  struct stat fst;
  ASSERT_OK(fstat(fd, &fst));
  EXPECT_EQ(fst.st_size, 2);
  close(fd);
  EXPECT_EQ(read_file(p("f")), "01");

  // Shrink then grow: the old bytes must not reappear.
  ASSERT_OK(truncate(p("f").c_str(), 0));
  ASSERT_OK(truncate(p("f").c_str(), 2));
  EXPECT_EQ(read_file(p("f")), std::string(2, '\0'));

  const int trunc_fd = open(p("f").c_str(), O_WRONLY | O_TRUNC);
  ASSERT_GE(trunc_fd, 0);
  close(trunc_fd);
  EXPECT_EQ(stat_of(p("f")).st_size, 0);
}

TEST_P(AttributesTest, UtimensatSetsExactTimes) {
  write_file(p("f"), "x");
  const timespec times[2] = {{1000000000, 123456789}, {1200000000, 987654321}};
  ASSERT_OK(utimensat(AT_FDCWD, p("f").c_str(), times, 0));
  const struct stat st = stat_of(p("f"));
  EXPECT_EQ(st.st_atim.tv_sec, 1000000000);
  EXPECT_EQ(st.st_atim.tv_nsec, 123456789);
  EXPECT_EQ(st.st_mtim.tv_sec, 1200000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 987654321);
  EXPECT_TRUE(close_to(st.st_ctim, now_realtime())) << "setting times moves ctime to now";
}

TEST_P(AttributesTest, UtimensatNowAndOmit) {
  write_file(p("f"), "x");
  const timespec old_times[2] = {{1000000000, 0}, {1100000000, 0}};
  ASSERT_OK(utimensat(AT_FDCWD, p("f").c_str(), old_times, 0));

  // mtime to now, atime untouched.
  const timespec now_mtime[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  ASSERT_OK(utimensat(AT_FDCWD, p("f").c_str(), now_mtime, 0));
  struct stat st = stat_of(p("f"));
  EXPECT_EQ(st.st_atim.tv_sec, 1000000000) << "UTIME_OMIT must leave atime alone";
  EXPECT_TRUE(close_to(st.st_mtim, now_realtime())) << to_string(st.st_mtim);

  // atime to now, mtime untouched.
  const timespec now_atime[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  ASSERT_OK(utimensat(AT_FDCWD, p("f").c_str(), now_atime, 0));
  const struct stat st2 = stat_of(p("f"));
  EXPECT_TRUE(close_to(st2.st_atim, now_realtime())) << to_string(st2.st_atim);
  EXPECT_TRUE(same_time(st2.st_mtim, st.st_mtim)) << "UTIME_OMIT must leave mtime alone";

  // Both omitted: nothing changes, not even ctime.
  let_time_pass();
  const timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  ASSERT_OK(utimensat(AT_FDCWD, p("f").c_str(), omit, 0));
  const struct stat st3 = stat_of(p("f"));
  EXPECT_TRUE(same_time(st3.st_atim, st2.st_atim));
  EXPECT_TRUE(same_time(st3.st_mtim, st2.st_mtim));

  // NULL times on an open file: both to now.
  ASSERT_OK(utimensat(AT_FDCWD, p("f").c_str(), old_times, 0));
  const int fd = open(p("f").c_str(), O_RDWR);
  ASSERT_OK(futimens(fd, nullptr));
  close(fd);
  const struct stat st4 = stat_of(p("f"));
  EXPECT_TRUE(close_to(st4.st_atim, now_realtime()));
  EXPECT_TRUE(close_to(st4.st_mtim, now_realtime()));
}

TEST_P(AttributesTest, UtimensatOnSymlinkItself) {
  write_file(p("f"), "x");
  ASSERT_OK(symlink("f", p("link").c_str()));
  const timespec times[2] = {{1000000000, 0}, {1000000001, 0}};
  ASSERT_OK(utimensat(AT_FDCWD, p("link").c_str(), times, AT_SYMLINK_NOFOLLOW));
  EXPECT_EQ(lstat_of(p("link")).st_mtim.tv_sec, 1000000001);
  EXPECT_NE(stat_of(p("f")).st_mtim.tv_sec, 1000000001) << "the target must be untouched";
}

INSTANTIATE_TEST_SUITE_P(Fs, AttributesTest, ::testing::ValuesIn(all_fs()), param_label);

}  // namespace
}  // namespace finesse::kernel_path
