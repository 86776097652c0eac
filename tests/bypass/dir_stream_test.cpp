// Directory streams through the explicit API (finesse_opendir, finesse_readdir...): the
// same entries, in the same order, with the same d_ino, d_type and offsets as the kernel's
// listing of the same directory, and its errors; changes through either path seen by the
// next listing.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <tuple>
#include <vector>

#include "attached_fs.h"

namespace finesse::testing {
namespace {

using Entry = std::tuple<std::string, ino_t, unsigned char, off_t>;

std::vector<Entry> kernel_listing(const std::string &dir) {
  std::vector<Entry> v;
  DIR *d = opendir(dir.c_str());
  if (d == nullptr) return v;
  while (struct dirent *e = readdir(d)) v.emplace_back(e->d_name, e->d_ino, e->d_type, e->d_off);
  closedir(d);
  return v;
}

std::vector<Entry> finesse_listing(DIR *d) {
  std::vector<Entry> v;
  while (struct dirent *e = finesse_readdir(d))
    v.emplace_back(e->d_name, e->d_ino, e->d_type, e->d_off);
  return v;
}

bool has(const std::vector<Entry> &v, const std::string &name) {
  for (const auto &e : v)
    if (std::get<0>(e) == name) return true;
  return false;
}

class DirStreams : public ::testing::TestWithParam<FsKind> {
 protected:
  void SetUp() override {
    fs_ = std::make_unique<AttachedFs>(mount_options(GetParam(), true, true));
    dir_ = fs_->path("d");
    ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0);
    // More than one reply holds (about 16 KiB of entries).
    for (int i = 0; i < 800; i++) {
      int fd =
          ::open((dir_ + "/entry-number-" + std::to_string(i)).c_str(), O_CREAT | O_WRONLY, 0644);
      ASSERT_GE(fd, 0);
      ::close(fd);
    }
    ASSERT_EQ(::mkdir((dir_ + "/sub").c_str(), 0755), 0);
    ASSERT_EQ(::symlink("sub", (dir_ + "/link").c_str()), 0);
  }
  uint64_t listings_served() const {
    return fs_->stats().served[static_cast<size_t>(wire::Op::kReaddir)];
  }
  std::unique_ptr<AttachedFs> fs_;
  std::string dir_;
};

TEST_P(DirStreams, ListingIsTheKernelsInItsOrder) {
  std::vector<Entry> k = kernel_listing(dir_);
  ASSERT_EQ(k.size(), 804u);
  uint64_t before = listings_served();
  DIR *d = finesse_opendir(dir_.c_str());
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  EXPECT_EQ(finesse_listing(d), k);
  EXPECT_EQ(finesse_closedir(d), 0);
  EXPECT_GE(listings_served() - before, 3u) << "the listing and its further replies";
}

TEST_P(DirStreams, ChangesThroughEitherPathAreInTheNextListing) {
  DIR *d = finesse_opendir(dir_.c_str());
  ASSERT_NE(d, nullptr);
  std::vector<Entry> first = finesse_listing(d);
  int fd = ::open((dir_ + "/made-by-the-kernel").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ASSERT_EQ(::unlink((dir_ + "/entry-number-7").c_str()), 0);
  ASSERT_EQ(finesse_unlink((dir_ + "/entry-number-8").c_str()), 0);
  ASSERT_EQ(finesse_mkdir((dir_ + "/made-by-the-bypass").c_str(), 0755), 0);
  finesse_rewinddir(d);
  std::vector<Entry> second = finesse_listing(d);
  EXPECT_TRUE(has(first, "entry-number-7") && has(first, "entry-number-8"));
  EXPECT_TRUE(has(second, "made-by-the-kernel"));
  EXPECT_TRUE(has(second, "made-by-the-bypass"));
  EXPECT_FALSE(has(second, "entry-number-7"));
  EXPECT_FALSE(has(second, "entry-number-8"));
  EXPECT_EQ(second, kernel_listing(dir_));
  finesse_closedir(d);
}

TEST_P(DirStreams, FdopendirDirfdTelldirSeekdir) {
  int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  DIR *d = finesse_fdopendir(fd);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  EXPECT_EQ(finesse_dirfd(d), fd);
  for (int i = 0; i < 300; i++) ASSERT_NE(finesse_readdir(d), nullptr);
  long pos = finesse_telldir(d);
  std::vector<std::string> next, again;
  for (int i = 0; i < 5; i++) next.emplace_back(finesse_readdir(d)->d_name);
  for (int i = 0; i < 400; i++) ASSERT_NE(finesse_readdir(d), nullptr);  // into a later reply
  finesse_seekdir(d, pos);
  EXPECT_EQ(finesse_telldir(d), pos);
  for (int i = 0; i < 5; i++) again.emplace_back(finesse_readdir(d)->d_name);
  EXPECT_EQ(again, next);
  finesse_rewinddir(d);
  EXPECT_EQ(finesse_listing(d).size(), 804u);
  EXPECT_EQ(finesse_closedir(d), 0);
  errno = 0;
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1) << "closedir closes fdopendir's fd";
  EXPECT_EQ(errno, EBADF);
}

TEST_P(DirStreams, DirfdOfAnOpendirStreamIsTheDirectory) {
  DIR *d = finesse_opendir(dir_.c_str());
  ASSERT_NE(d, nullptr);
  int fd = finesse_dirfd(d);
  ASSERT_GE(fd, 0);
  struct stat a, b;
  ASSERT_EQ(::fstat(fd, &a), 0);
  ASSERT_EQ(::stat(dir_.c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(finesse_dirfd(d), fd);
  EXPECT_EQ(finesse_closedir(d), 0);
}

TEST_P(DirStreams, ErrorsAreTheKernels) {
  errno = 0;
  EXPECT_EQ(finesse_opendir(fs_->path("missing").c_str()), nullptr);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(finesse_opendir((dir_ + "/entry-number-1").c_str()), nullptr);
  EXPECT_EQ(errno, ENOTDIR);
  ASSERT_EQ(::chmod((dir_ + "/sub").c_str(), 0700), 0);
  const std::string sub = dir_ + "/sub";
  int rc = run_as([sub] {
    errno = 0;
    DIR *d = finesse_opendir(sub.c_str());
    if (d != nullptr) return 1;
    if (errno != EACCES) return 2;
    return finesse_last_route() == FINESSE_ROUTE_BYPASS ? 0 : 3;
  });
  EXPECT_EQ(rc, 0) << "1: listed, 2: another errno, 3: not refused by the bypass";
}

TEST_P(DirStreams, ElsewhereIsLibcs) {
  DIR *d = finesse_opendir("/");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_KERNEL);
  EXPECT_FALSE(finesse_listing(d).empty());
  EXPECT_GE(finesse_dirfd(d), 0);
  EXPECT_EQ(finesse_closedir(d), 0);
}

// A directory of 100,000 entries (20,000 under emulation), made in the passthrough's source
// directly: the bypass's listing (many replies, attributes for the first entries only) is
// the kernel's, entry for entry.
TEST(LargeDirectory, ListingIsTheKernels) {
  AttachedFs fs(mount_options(FsKind::kPassthrough, true, true));
  const int n = emulated() ? 20000 : 100000;
  const std::string src = fs.fs().source() + "/big";
  ASSERT_EQ(::mkdir(src.c_str(), 0755), 0);
  for (int i = 0; i < n; i++) {
    int fd = ::open((src + "/" + std::to_string(i)).c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  const std::string dir = fs.path("big");
  std::vector<Entry> k = kernel_listing(dir);
  ASSERT_EQ(k.size(), static_cast<size_t>(n) + 2);
  DIR *d = finesse_opendir(dir.c_str());
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  EXPECT_TRUE(finesse_listing(d) == k);
  EXPECT_EQ(finesse_closedir(d), 0);
}

// The high-level API's offsets index a snapshot its opendir takes: a listing must stay on
// one handle to be right.
INSTANTIATE_TEST_SUITE_P(All, DirStreams,
                         ::testing::Values(FsKind::kMemfs, FsKind::kPassthrough,
                                           FsKind::kHighLevel),
                         [](const auto &i) { return fs_name(i.param); });

}  // namespace
}  // namespace finesse::testing
