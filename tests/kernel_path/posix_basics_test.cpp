// POSIX basics through the kernel FUSE path: files, directories, links, symlinks, readdir,
// statfs.
#include <fcntl.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <set>

#include "fs_fixture.h"
#include "fs_util.h"

namespace finesse::kernel_path {
namespace {

constexpr long kFuseSuperMagic = 0x65735546;

using PosixBasicsTest = MountedFsTest;

TEST_P(PosixBasicsTest, CreateWriteReadBack) {
  const int fd = open(p("f").c_str(), O_CREAT | O_EXCL | O_RDWR, 0644);
  ASSERT_GE(fd, 0) << errno_name(errno);
  // Large enough to span many FUSE write/read requests, with a pattern that catches offsets.
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  char middle[10] = {};
  ASSERT_EQ(pread(fd, middle, sizeof middle, 500000), 10);
  EXPECT_EQ(std::string(middle, 10), data.substr(500000, 10));
  ASSERT_EQ(pwrite(fd, "XYZ", 3, 4094), 3);  // across a page boundary
  data.replace(4094, 3, "XYZ");
  ASSERT_OK(close(fd));
  EXPECT_EQ(read_file(p("f")), data);
  EXPECT_EQ(stat_of(p("f")).st_size, static_cast<off_t>(data.size()));

  const int append = open(p("f").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(append, 0);
  ASSERT_EQ(write(append, "tail", 4), 4);
  close(append);
  EXPECT_EQ(read_file(p("f")).substr(data.size()), "tail");

  // Reading past the end returns 0 bytes, not an error.
  const int rd = open(p("f").c_str(), O_RDONLY);
  char byte;
  EXPECT_EQ(pread(rd, &byte, 1, static_cast<off_t>(data.size()) + 100), 0);
  close(rd);
}

TEST_P(PosixBasicsTest, NewFileHasExpectedStat) {
  const timespec before_create = now_realtime();
  write_file(p("f"), "12345", 0640);
  const struct stat st = stat_of(p("f"));
  EXPECT_EQ(st.st_mode, S_IFREG | 0640u);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_EQ(st.st_size, 5);
  EXPECT_EQ(st.st_uid, getuid());
  EXPECT_EQ(st.st_gid, getgid());
  EXPECT_NE(st.st_ino, 0u);
  EXPECT_GT(st.st_blksize, 0);
  EXPECT_TRUE(close_to(st.st_mtim, before_create)) << to_string(st.st_mtim);
  EXPECT_TRUE(close_to(st.st_ctim, before_create)) << to_string(st.st_ctim);
  EXPECT_TRUE(close_to(st.st_atim, before_create)) << to_string(st.st_atim);
  EXPECT_NE(stat_of(p(".")).st_ino, st.st_ino);
}

TEST_P(PosixBasicsTest, WriteMovesMtimeAndCtime) {
  write_file(p("f"), "one");
  const struct stat old_st = stat_of(p("f"));
  let_time_pass();
  const int fd = open(p("f").c_str(), O_WRONLY);
  ASSERT_EQ(pwrite(fd, "three", 5, 3), 5);
  close(fd);
  const struct stat st = stat_of(p("f"));
  EXPECT_EQ(st.st_size, 8);
  EXPECT_TRUE(before(old_st.st_mtim, st.st_mtim))
      << to_string(old_st.st_mtim) << " -> " << to_string(st.st_mtim);
  EXPECT_TRUE(before(old_st.st_ctim, st.st_ctim))
      << to_string(old_st.st_ctim) << " -> " << to_string(st.st_ctim);
}

TEST_P(PosixBasicsTest, MkdirAndRmdirMaintainLinkCounts) {
  const nlink_t root_links = stat_of(root()).st_nlink;
  ASSERT_OK(mkdir(p("d").c_str(), 0750));
  const struct stat st = stat_of(p("d"));
  EXPECT_EQ(st.st_mode, S_IFDIR | 0750u);
  EXPECT_EQ(st.st_nlink, 2u) << "a new directory has '.' and its entry in the parent";
  EXPECT_EQ(st.st_uid, getuid());
  EXPECT_EQ(stat_of(root()).st_nlink, root_links + 1) << "the child's '..' links the parent";
  ASSERT_OK(mkdir(p("d/sub").c_str(), 0755));
  EXPECT_EQ(stat_of(p("d")).st_nlink, 3u);
  EXPECT_EQ(stat_of(p("d/sub/..")).st_ino, st.st_ino);
  write_file(p("d/file"), "x");
  EXPECT_EQ(stat_of(p("d")).st_nlink, 3u) << "files do not add to a directory's links";

  ASSERT_OK(rmdir(p("d/sub").c_str()));
  EXPECT_EQ(stat_of(p("d")).st_nlink, 2u);
  ASSERT_OK(unlink(p("d/file").c_str()));
  ASSERT_OK(rmdir(p("d").c_str()));
  EXPECT_ERRNO(ENOENT, access(p("d").c_str(), F_OK));
  EXPECT_EQ(stat_of(root()).st_nlink, root_links);
}

TEST_P(PosixBasicsTest, DirectoryTimesMoveWhenEntriesChange) {
  ASSERT_OK(mkdir(p("d").c_str(), 0755));
  const struct stat st0 = stat_of(p("d"));
  let_time_pass();
  write_file(p("d/f"), "x");
  const struct stat st1 = stat_of(p("d"));
  EXPECT_TRUE(before(st0.st_mtim, st1.st_mtim)) << "create must update the parent's mtime";
  EXPECT_TRUE(before(st0.st_ctim, st1.st_ctim));
  let_time_pass();
  ASSERT_OK(unlink(p("d/f").c_str()));
  const struct stat st2 = stat_of(p("d"));
  EXPECT_TRUE(before(st1.st_mtim, st2.st_mtim)) << "unlink must update the parent's mtime";
}

TEST_P(PosixBasicsTest, HardLinksShareTheInode) {
  // The high-level API gives each path its own kernel inode, so under attribute caching the
  // other name's link count and ctime stay stale for attr_timeout: hlfs is held to those
  // only without caching (hlfs_timeout0).
  const bool attrs_shared = !(is_hlfs() && !no_cache());
  write_file(p("a"), "shared");
  const struct stat before_link = stat_of(p("a"));
  let_time_pass();
  ASSERT_OK(link(p("a").c_str(), p("b").c_str()));
  const struct stat a = stat_of(p("a"));
  const struct stat b = stat_of(p("b"));
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(b.st_nlink, 2u);
  if (attrs_shared) {
    EXPECT_EQ(a.st_nlink, 2u);
    EXPECT_TRUE(before(before_link.st_ctim, a.st_ctim)) << "link changes the inode's ctime";
  }
  write_file(p("b"), "changed via b");
  EXPECT_EQ(read_file(p("b")), "changed via b");
  if (attrs_shared) {
    EXPECT_EQ(read_file(p("a")), "changed via b");  // else a's cached size cuts the read
  }
  ASSERT_OK(unlink(p("a").c_str()));
  EXPECT_EQ(stat_of(p("b")).st_nlink, 1u);
  EXPECT_EQ(read_file(p("b")), "changed via b");
}

TEST_P(PosixBasicsTest, UnlinkedOpenFileStaysUsable) {
  write_file(p("f"), "still here");
  const UniqueFd file(open(p("f").c_str(), O_RDWR));
  ASSERT_TRUE(file.valid());
  const int fd = file.get();
  ASSERT_OK(unlink(p("f").c_str()));
  EXPECT_ERRNO(ENOENT, access(p("f").c_str(), F_OK));
  char buffer[32] = {};
  EXPECT_EQ(pread(fd, buffer, sizeof buffer, 0), 10);
  EXPECT_STREQ(buffer, "still here");
  EXPECT_EQ(pwrite(fd, "!", 1, 10), 1);
  struct stat st;
  if (is_hlfs()) {
    // The kernel's getattr carries no file handle, and libfuse's high-level layer has no
    // path for a removed node: it answers ESTALE (a limitation of fuse.h, not of hlfs).
    EXPECT_ERRNO(ESTALE, fstat(fd, &st));
    return;
  }
  ASSERT_OK(fstat(fd, &st));
  EXPECT_EQ(st.st_size, 11);
  EXPECT_EQ(st.st_nlink, 0u);
}

TEST_P(PosixBasicsTest, SymlinkAndReadlink) {
  write_file(p("target"), "through the link");
  ASSERT_OK(symlink("target", p("link").c_str()));
  const struct stat st = lstat_of(p("link"));
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << std::oct << st.st_mode;
  EXPECT_EQ(st.st_size, 6) << "a symlink's size is the length of its target";
  char buffer[64] = {};
  EXPECT_EQ(readlink(p("link").c_str(), buffer, sizeof buffer), 6);
  EXPECT_STREQ(buffer, "target");
  EXPECT_EQ(read_file(p("link")), "through the link");
  EXPECT_EQ(stat_of(p("link")).st_ino, stat_of(p("target")).st_ino);

  char small[3];
  EXPECT_EQ(readlink(p("link").c_str(), small, sizeof small), 3) << "truncated, not an error";

  // 1000 bytes, in components short enough to be looked up (the first one does not exist).
  std::string long_target = std::string(200, 'x');
  while (long_target.size() < 1000) long_target += "/" + std::string(199, 'y');
  long_target.resize(1000);
  ASSERT_OK(symlink(long_target.c_str(), p("dangling").c_str()));
  char long_buffer[2048] = {};
  EXPECT_EQ(readlink(p("dangling").c_str(), long_buffer, sizeof long_buffer), 1000);
  EXPECT_EQ(std::string(long_buffer), long_target);
  EXPECT_ERRNO(ENOENT, access(p("dangling").c_str(), F_OK));
  EXPECT_OK(faccessat(AT_FDCWD, p("dangling").c_str(), F_OK, AT_SYMLINK_NOFOLLOW));
}

TEST_P(PosixBasicsTest, ReaddirListsExactlyTheEntries) {
  write_file(p("file"), "");
  ASSERT_OK(mkdir(p("dir").c_str(), 0755));
  ASSERT_OK(symlink("file", p("link").c_str()));
  const auto entries = list_dir(root());
  const std::set<std::string> names = [&] {
    std::set<std::string> n;
    for (const auto &[name, type] : entries) n.insert(name);
    return n;
  }();
  EXPECT_EQ(names, (std::set<std::string>{".", "..", "file", "dir", "link"}));
  auto type_is = [&](const std::string &name, unsigned char type) {
    const auto it = entries.find(name);
    return it != entries.end() && (it->second == type || it->second == DT_UNKNOWN);
  };
  EXPECT_TRUE(type_is("file", DT_REG));
  EXPECT_TRUE(type_is("dir", DT_DIR));
  EXPECT_TRUE(type_is("link", DT_LNK));
  EXPECT_EQ(list_dir(p("dir")).size(), 2u) << "an empty directory lists only . and ..";
}

TEST_P(PosixBasicsTest, ReaddirOfALargeDirectoryReturnsEveryEntryOnce) {
  // Many long names: the listing spans several FUSE readdir buffers, so resuming at the
  // right offset matters. list_dir fails on duplicates.
  ASSERT_OK(mkdir(p("big").c_str(), 0755));
  std::set<std::string> created{".", ".."};
  for (int i = 0; i < 600; ++i) {
    const std::string name = "entry-with-a-fairly-long-name-" + std::to_string(i);
    write_file(p("big/" + name), "");
    created.insert(name);
  }
  std::set<std::string> listed;
  for (const auto &[name, type] : list_dir(p("big"))) listed.insert(name);
  EXPECT_EQ(listed.size(), created.size());
  EXPECT_EQ(listed, created);
}

TEST_P(PosixBasicsTest, ReaddirInodeNumbersMatchStat) {
  write_file(p("f"), "");
  ASSERT_OK(mkdir(p("d").c_str(), 0755));
  DIR *dir = opendir(root().c_str());
  ASSERT_NE(dir, nullptr);
  int checked = 0;
  while (const dirent *e = readdir(dir)) {
    if (std::string(e->d_name) == "f" || std::string(e->d_name) == "d") {
      EXPECT_EQ(e->d_ino, stat_of(p(e->d_name)).st_ino) << e->d_name;
      ++checked;
    }
  }
  closedir(dir);
  EXPECT_EQ(checked, 2);
}

TEST_P(PosixBasicsTest, StatfsReportsAFuseFileSystem) {
  struct statfs sfs;
  ASSERT_OK(statfs(root().c_str(), &sfs));
  EXPECT_EQ(sfs.f_type, kFuseSuperMagic);
  EXPECT_GT(sfs.f_bsize, 0);
  EXPECT_EQ(sfs.f_namelen, 255);
  EXPECT_LE(sfs.f_bfree, sfs.f_blocks);
  EXPECT_LE(sfs.f_bavail, sfs.f_bfree);
  struct statfs via_file;
  write_file(p("f"), "x");
  ASSERT_OK(statfs(p("f").c_str(), &via_file));
  EXPECT_EQ(via_file.f_type, kFuseSuperMagic);
}

TEST_P(PosixBasicsTest, FsyncAndFlushSucceed) {
  const int fd = open(p("f").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "x", 1), 1);
  EXPECT_OK(fsync(fd));
  EXPECT_OK(fdatasync(fd));
  EXPECT_OK(close(fd));
}

INSTANTIATE_TEST_SUITE_P(Fs, PosixBasicsTest, ::testing::ValuesIn(all_fs()), param_label);

}  // namespace
}  // namespace finesse::kernel_path
