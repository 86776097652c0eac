// rename and renameat2 (RENAME_NOREPLACE, RENAME_EXCHANGE) through the kernel FUSE path.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "fs_fixture.h"
#include "fs_util.h"

namespace finesse::kernel_path {
namespace {

using RenameTest = MountedFsTest;

int rename2(const std::string &from, const std::string &to, unsigned flags) {
  return renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags);
}

TEST_P(RenameTest, MovesAFileWithinAndAcrossDirectories) {
  write_file(p("a"), "content");
  const ino_t ino = stat_of(p("a")).st_ino;
  ASSERT_OK(rename(p("a").c_str(), p("b").c_str()));
  EXPECT_ERRNO(ENOENT, access(p("a").c_str(), F_OK));
  EXPECT_EQ(read_file(p("b")), "content");
  EXPECT_EQ(stat_of(p("b")).st_ino, ino) << "rename keeps the inode";

  ASSERT_OK(mkdir(p("d").c_str(), 0755));
  ASSERT_OK(rename(p("b").c_str(), p("d/c").c_str()));
  EXPECT_EQ(read_file(p("d/c")), "content");
  EXPECT_EQ(list_dir(root()).count("b"), 0u);
  EXPECT_EQ(list_dir(p("d")).count("c"), 1u);
}

TEST_P(RenameTest, ReplacesAnExistingFile) {
  write_file(p("a"), "new");
  write_file(p("b"), "old");
  ASSERT_OK(link(p("b").c_str(), p("b-link").c_str()));
  ASSERT_OK(rename(p("a").c_str(), p("b").c_str()));
  EXPECT_EQ(read_file(p("b")), "new");
  EXPECT_ERRNO(ENOENT, access(p("a").c_str(), F_OK));
  // The replaced inode lost one link and is still reachable through its other name.
  EXPECT_EQ(read_file(p("b-link")), "old");
  EXPECT_EQ(stat_of(p("b-link")).st_nlink, 1u);
}

TEST_P(RenameTest, MovesADirectoryAndFixesLinkCounts) {
  ASSERT_OK(mkdir(p("from").c_str(), 0755));
  ASSERT_OK(mkdir(p("to").c_str(), 0755));
  ASSERT_OK(mkdir(p("from/d").c_str(), 0755));
  write_file(p("from/d/f"), "inside");
  ASSERT_OK(rename(p("from/d").c_str(), p("to/d").c_str()));
  EXPECT_EQ(read_file(p("to/d/f")), "inside");
  EXPECT_EQ(stat_of(p("from")).st_nlink, 2u);
  EXPECT_EQ(stat_of(p("to")).st_nlink, 3u);
  EXPECT_EQ(stat_of(p("to/d/..")).st_ino, stat_of(p("to")).st_ino) << "'..' follows the move";

  // Over an empty directory: allowed, and the target's link disappears from the parent.
  ASSERT_OK(mkdir(p("empty").c_str(), 0755));
  const nlink_t root_links = stat_of(root()).st_nlink;
  ASSERT_OK(rename(p("to/d").c_str(), p("empty").c_str()));
  EXPECT_EQ(read_file(p("empty/f")), "inside");
  EXPECT_EQ(stat_of(root()).st_nlink, root_links);
  EXPECT_EQ(stat_of(p("to")).st_nlink, 2u);
}

TEST_P(RenameTest, RenameToItselfOrAHardLinkIsANoOp) {
  write_file(p("a"), "x");
  ASSERT_OK(link(p("a").c_str(), p("b").c_str()));
  ASSERT_OK(rename(p("a").c_str(), p("a").c_str()));
  ASSERT_OK(rename(p("a").c_str(), p("b").c_str()));  // same inode: POSIX says do nothing
  EXPECT_OK(access(p("a").c_str(), F_OK));
  EXPECT_OK(access(p("b").c_str(), F_OK));
  EXPECT_EQ(stat_of(p("a")).st_nlink, 2u);
}

TEST_P(RenameTest, NoreplaceRefusesAnExistingTarget) {
  write_file(p("a"), "a");
  write_file(p("b"), "b");
  errno = 0;
  const int rc = rename2(p("a"), p("b"), RENAME_NOREPLACE);
  const int err = errno;
  EXPECT_EQ(rc, -1);
  EXPECT_EQ(errno_name(err), "EEXIST");
  EXPECT_EQ(read_file(p("a")), "a");
  EXPECT_EQ(read_file(p("b")), "b");
  ASSERT_OK(rename2(p("a"), p("c"), RENAME_NOREPLACE));
  EXPECT_EQ(read_file(p("c")), "a");
  EXPECT_ERRNO(ENOENT, access(p("a").c_str(), F_OK));
}

TEST_P(RenameTest, ExchangeSwapsTwoEntries) {
  write_file(p("file"), "file content");
  ASSERT_OK(mkdir(p("dir").c_str(), 0755));
  write_file(p("dir/inner"), "inner");
  const ino_t file_ino = stat_of(p("file")).st_ino;
  const ino_t dir_ino = stat_of(p("dir")).st_ino;
  errno = 0;
  const int rc = rename2(p("file"), p("dir"), RENAME_EXCHANGE);
  ASSERT_EQ(rc, 0) << errno_name(errno);
  EXPECT_EQ(stat_of(p("file")).st_ino, dir_ino);
  EXPECT_EQ(stat_of(p("dir")).st_ino, file_ino);
  EXPECT_TRUE(S_ISDIR(stat_of(p("file")).st_mode));
  EXPECT_EQ(read_file(p("file/inner")), "inner");
  EXPECT_EQ(read_file(p("dir")), "file content");

  // Across directories, with a subdirectory: both '..' links must follow.
  ASSERT_OK(mkdir(p("other").c_str(), 0755));
  write_file(p("other/x"), "x");
  ASSERT_OK(rename2(p("file"), p("other/x"), RENAME_EXCHANGE));
  EXPECT_EQ(stat_of(p("other/x/..")).st_ino, stat_of(p("other")).st_ino);
  EXPECT_EQ(read_file(p("file")), "x");
  EXPECT_EQ(stat_of(p("other")).st_nlink, 3u);

  EXPECT_ERRNO(ENOENT, rename2(p("file"), p("missing"), RENAME_EXCHANGE));
  EXPECT_ERRNO(EINVAL, rename2(p("file"), p("dir"), RENAME_EXCHANGE | RENAME_NOREPLACE));
}

TEST_P(RenameTest, RenameMovesCtimeOfTheParents) {
  ASSERT_OK(mkdir(p("from").c_str(), 0755));
  ASSERT_OK(mkdir(p("to").c_str(), 0755));
  write_file(p("from/f"), "x");
  const struct stat from0 = stat_of(p("from"));
  const struct stat to0 = stat_of(p("to"));
  let_time_pass();
  ASSERT_OK(rename(p("from/f").c_str(), p("to/f").c_str()));
  EXPECT_TRUE(before(from0.st_mtim, stat_of(p("from")).st_mtim)) << "old parent's mtime";
  EXPECT_TRUE(before(to0.st_mtim, stat_of(p("to")).st_mtim)) << "new parent's mtime";
}

INSTANTIATE_TEST_SUITE_P(Fs, RenameTest, ::testing::ValuesIn(all_fs()), param_label);

}  // namespace
}  // namespace finesse::kernel_path
