// The stats a process makes after listing a directory (`ls -l`, `du`), answered from the
// attributes its latest listing gave (userlib/absent_xattrs.h, wire::kEntryAttr): the kernel's
// answers without a request per file, and never once anything changed through either path
// since the listing, whoever changed it.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "attached_fs.h"

namespace finesse::testing {
namespace {

constexpr int kFiles = 20;

void expect_same(const struct stat &a, const struct stat &b, const std::string &what) {
  EXPECT_EQ(a.st_dev, b.st_dev) << what;
  EXPECT_EQ(a.st_ino, b.st_ino) << what;
  EXPECT_EQ(a.st_mode, b.st_mode) << what;
  EXPECT_EQ(a.st_nlink, b.st_nlink) << what;
  EXPECT_EQ(a.st_uid, b.st_uid) << what;
  EXPECT_EQ(a.st_gid, b.st_gid) << what;
  EXPECT_EQ(a.st_size, b.st_size) << what;
  EXPECT_EQ(a.st_blocks, b.st_blocks) << what;
  EXPECT_EQ(a.st_blksize, b.st_blksize) << what;
  EXPECT_EQ(a.st_mtim.tv_sec, b.st_mtim.tv_sec) << what;
  EXPECT_EQ(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec) << what;
  EXPECT_EQ(a.st_ctim.tv_sec, b.st_ctim.tv_sec) << what;
  EXPECT_EQ(a.st_ctim.tv_nsec, b.st_ctim.tv_nsec) << what;
}

class ListedAttrs : public ::testing::TestWithParam<FsKind> {
 protected:
  void SetUp() override {
    fs_ = std::make_unique<AttachedFs>(mount_options(GetParam(), true, true));
    dir_ = fs_->path("d");
    ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0);
    for (int i = 0; i < kFiles; i++) {
      int fd = ::open(file(i).c_str(), O_CREAT | O_WRONLY, 0644);
      ASSERT_GE(fd, 0);
      ASSERT_EQ(::write(fd, "data", 1 + i % 4), 1 + i % 4);
      ::close(fd);
    }
    ASSERT_EQ(::mkdir((dir_ + "/sub").c_str(), 0700), 0);
    ASSERT_EQ(::symlink("f0", (dir_ + "/lnk").c_str()), 0);
    // The kernel releases the written files after close() returns, each a change clients hear
    // of: let those be done before listings are expected to hold.
    std::this_thread::sleep_for(std::chrono::milliseconds(emulated() ? 500 : 50));
    // This process has listed the directory and stat'ed a name in it through the bypass: its
    // next listings ask for attributes.
    list();
    struct stat st;
    ASSERT_EQ(finesse_lstat(file(0).c_str(), &st), 0);
    ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  }
  std::string file(int i) const { return dir_ + "/f" + std::to_string(i); }
  void list() {
    DIR *d = finesse_opendir(dir_.c_str());
    ASSERT_NE(d, nullptr);
    ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
    while (finesse_readdir(d) != nullptr) {
    }
    EXPECT_EQ(finesse_closedir(d), 0);
  }
  uint64_t stat_requests() const {
    control::Stats s = fs_->stats();
    const auto op = static_cast<size_t>(wire::Op::kStat);
    return s.served[op] + s.fallback[op];
  }
  // finesse_lstat of path equals the kernel's lstat.
  void expect_kernel_lstat(const std::string &path) {
    struct stat b {
    }, k{};
    ASSERT_EQ(finesse_lstat(path.c_str(), &b), 0) << path;
    EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
    ASSERT_EQ(::lstat(path.c_str(), &k), 0) << path;
    expect_same(b, k, path);
  }
  std::unique_ptr<AttachedFs> fs_;
  std::string dir_;
};

TEST_P(ListedAttrs, AnsweredFromTheListingAsTheKernelAnswers) {
  list();
  const uint64_t before = stat_requests();
  for (int i = 0; i < kFiles; i++) expect_kernel_lstat(file(i));
  expect_kernel_lstat(dir_ + "/sub");
  expect_kernel_lstat(dir_ + "/lnk");  // the symlink's own
  struct statx bx {
  }, kx{};
  ASSERT_EQ(finesse_statx(AT_FDCWD, file(3).c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &bx),
            0);
  ASSERT_EQ(::statx(AT_FDCWD, file(3).c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &kx), 0);
  EXPECT_EQ(bx.stx_ino, kx.stx_ino);
  EXPECT_EQ(bx.stx_mode, kx.stx_mode);
  EXPECT_EQ(bx.stx_size, kx.stx_size);
  EXPECT_EQ(bx.stx_dev_major, kx.stx_dev_major);
  EXPECT_EQ(bx.stx_dev_minor, kx.stx_dev_minor);
  EXPECT_EQ(bx.stx_mnt_id, kx.stx_mnt_id);
  EXPECT_EQ(bx.stx_blksize, kx.stx_blksize);
  EXPECT_EQ(stat_requests(), before) << "answered from the listing";
  // Following the symlink: its target's attributes, asked for (the listing is about the link).
  struct stat b {
  }, k{};
  ASSERT_EQ(finesse_stat((dir_ + "/lnk").c_str(), &b), 0);
  ASSERT_EQ(::stat((dir_ + "/lnk").c_str(), &k), 0);
  expect_same(b, k, "lnk followed");
  EXPECT_EQ(stat_requests(), before + 1);
  // A name the listing did not have.
  EXPECT_EQ(finesse_lstat((dir_ + "/none").c_str(), &b), -1);
  EXPECT_EQ(errno, ENOENT);
}

TEST_P(ListedAttrs, ChangesThroughEitherPathAreSeenAtOnce) {
  list();
  // Through the kernel path, by this process.
  ASSERT_EQ(::chmod(file(1).c_str(), 0600), 0);
  expect_kernel_lstat(file(1));
  // Through the bypass.
  list();
  ASSERT_EQ(finesse_chmod(file(2).c_str(), 0640), 0);
  expect_kernel_lstat(file(2));
  // Data written through the kernel path: size and times.
  list();
  int fd = ::open(file(3).c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "more", 4), 4);
  expect_kernel_lstat(file(3));
  ::close(fd);
  // A rename over a listed name, through the kernel path.
  list();
  ASSERT_EQ(::rename(file(4).c_str(), file(5).c_str()), 0);
  expect_kernel_lstat(file(5));
  struct stat st {};
  EXPECT_EQ(finesse_lstat(file(4).c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
  // By another process, through the kernel path, while this one holds its listing.
  list();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(::chmod(file(6).c_str(), 0604) == 0 ? 0 : 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_EQ(status, 0);
  expect_kernel_lstat(file(6));
  for (int i : {1, 2, 3, 5, 6}) expect_kernel_lstat(file(i));
}

// A file system mounted on a listed directory: its mount point's attributes (and xattrs) are
// the other file system's, never the listing's, whether it was listed before the mount (once
// the server has seen the mount: it watches mountinfo, a millisecond or so) or after.
TEST_P(ListedAttrs, AMountPointIsNotAnsweredFromTheListing) {
  const std::string sub = dir_ + "/sub";
  for (bool listed_first : {true, false}) {
    SCOPED_TRACE(listed_first);
    if (listed_first) list();
    ASSERT_EQ(::mount("none", sub.c_str(), "tmpfs", 0, "mode=0751"), 0) << strerror(errno);
    std::this_thread::sleep_for(std::chrono::milliseconds(emulated() ? 1000 : 100));
    if (!listed_first) list();
    struct stat b {
    }, k{};
    const int rc = finesse_lstat(sub.c_str(), &b);
    ASSERT_EQ(::lstat(sub.c_str(), &k), 0);
    ASSERT_EQ(::umount2(sub.c_str(), MNT_DETACH), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(emulated() ? 1000 : 100));
    ASSERT_EQ(rc, 0);
    EXPECT_EQ(b.st_mode, k.st_mode);
    EXPECT_EQ(b.st_dev, k.st_dev);
    EXPECT_EQ(k.st_mode & 07777, 0751u);
  }
}

// A process that lists without stat'ing what it listed (find, grep -r) does not pay for
// attributes: its listings stop asking for them after two whose attributes answered nothing,
// and ask again once a stat of a name in the directory listed last has to ask the server.
TEST_P(ListedAttrs, ListingsStopAskingWhenNothingIsStatedFromThem) {
  const std::string other = fs_->path("other");
  ASSERT_EQ(::mkdir(other.c_str(), 0755), 0);
  for (const char *n : {"x", "y"})
    ::close(::open((other + "/" + n).c_str(), O_CREAT | O_WRONLY, 0644));
  auto list_other = [&] {
    DIR *d = finesse_opendir(other.c_str());
    ASSERT_NE(d, nullptr);
    while (finesse_readdir(d) != nullptr) {
    }
    finesse_closedir(d);
  };
  for (int i = 0; i < 3; i++) list_other();             // asked, unused; asked, unused; not asked
  ASSERT_EQ(::chmod((other + "/y").c_str(), 0600), 0);  // what was listed holds no more
  list_other();
  const uint64_t before = stat_requests();
  struct stat st {};
  ASSERT_EQ(finesse_lstat((other + "/x").c_str(), &st), 0);
  EXPECT_EQ(stat_requests(), before + 1) << "not answered from the listing";
  list_other();
  ASSERT_EQ(finesse_lstat((other + "/y").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(stat_requests(), before + 1) << "answered from the listing";
}

INSTANTIATE_TEST_SUITE_P(All, ListedAttrs, ::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                         [](const auto &i) { return fs_name(i.param); });

// Without attribute caching no listing answers a stat; with it, a change made below the file
// system, which no path tells the server of, shows once the attribute timeout (as long as the
// kernel would show a stale size or mode) has passed.
TEST(ListedAttrsBelowTheFileSystem, ShowNoLaterThanTheAttributeTimeout) {
  for (double timeout : {0.0, 1.0}) {
    SCOPED_TRACE(timeout);
    MountOptions o = mount_options(FsKind::kPassthrough, true, true);
    o.entry_timeout = o.attr_timeout = timeout;
    AttachedFs fs(o);
    const std::string dir = fs.path("d"), f = dir + "/f", src = fs.fs().source() + "/d/f";
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    int fd = ::open(f.c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
    struct stat st {};
    for (int round = 0; round < 2; round++) {  // the stat in between makes listings ask
      DIR *d = finesse_opendir(dir.c_str());
      ASSERT_NE(d, nullptr);
      while (finesse_readdir(d) != nullptr) {
      }
      finesse_closedir(d);
      if (round == 0) {
        ASSERT_EQ(finesse_lstat(f.c_str(), &st), 0);
      }
    }
    ASSERT_EQ(::chmod(src.c_str(), 0600), 0);
    if (timeout > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    ASSERT_EQ(finesse_lstat(f.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
  }
}

}  // namespace
}  // namespace finesse::testing
