// The xattrs a process reads for every file it lists (`ls -l`: the SELinux label, the access
// ACL), answered from its latest listing where the file system had none (userlib/
// absent_xattrs.h): the kernel's answers without a request per file, and never once anything
// changed through either path since the listing, whoever changed it.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "attached_fs.h"

namespace finesse::testing {
namespace {

constexpr char kLabel[] = "system_u:object_r:finesse_t:s0";
constexpr char kName[] = "security.selinux";
constexpr int kFiles = 20;

// finesse_lgetxattr of the label: its value, or "errno N".
std::string label_of(const std::string &path, bool follow = false) {
  char buf[128];
  errno = 0;
  ssize_t n = follow ? finesse_getxattr(path.c_str(), kName, buf, sizeof(buf))
                     : finesse_lgetxattr(path.c_str(), kName, buf, sizeof(buf));
  return n >= 0 ? std::string(buf, static_cast<size_t>(n)) : "errno " + std::to_string(errno);
}
std::string kernel_label_of(const std::string &path, bool follow = false) {
  char buf[128];
  errno = 0;
  ssize_t n = follow ? ::getxattr(path.c_str(), kName, buf, sizeof(buf))
                     : ::lgetxattr(path.c_str(), kName, buf, sizeof(buf));
  return n >= 0 ? std::string(buf, static_cast<size_t>(n)) : "errno " + std::to_string(errno);
}

class ListedXattrs : public ::testing::TestWithParam<FsKind> {
 protected:
  void SetUp() override { mount(mount_options(GetParam(), true, true)); }
  void mount(MountOptions o) {
    fs_ = std::make_unique<AttachedFs>(o);
    dir_ = fs_->path("d");
    ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0);
    for (int i = 0; i < kFiles; i++) {
      int fd = ::open(file(i).c_str(), O_CREAT | O_WRONLY, 0644);
      ASSERT_GE(fd, 0);
      ::close(fd);
    }
    ASSERT_EQ(::mkdir((dir_ + "/sub").c_str(), 0755), 0);
    ASSERT_EQ(::symlink("f0", (dir_ + "/lnk").c_str()), 0);
    // The kernel hands the label to the file system (seen by the server: the bypass may
    // answer it), and this process has read it through the bypass (its listings ask).
    ASSERT_EQ(kernel_label_of(file(0)), "errno " + std::to_string(ENODATA));
    ASSERT_EQ(label_of(file(0)), "errno " + std::to_string(ENODATA));
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
  uint64_t getxattr_requests() const {
    control::Stats s = fs_->stats();
    const auto op = static_cast<size_t>(wire::Op::kGetxattr);
    return s.served[op] + s.fallback[op];
  }
  std::unique_ptr<AttachedFs> fs_;
  std::string dir_;
};

const std::string kNoData = "errno " + std::to_string(ENODATA);

TEST_P(ListedXattrs, AnsweredFromTheListingAsTheKernelAnswers) {
  list();
  const uint64_t before = getxattr_requests();
  for (int i = 0; i < kFiles; i++) {
    EXPECT_EQ(label_of(file(i)), kNoData) << i;
    EXPECT_EQ(label_of(file(i), /*follow=*/true), kNoData) << i;
  }
  EXPECT_EQ(label_of(dir_ + "/sub"), kNoData);
  EXPECT_EQ(label_of(dir_ + "/lnk"), kNoData);  // the symlink's own
  EXPECT_EQ(getxattr_requests(), before) << "answered from the listing";
  // Following the symlink: its target's answer, asked for (the listing is about the link).
  EXPECT_EQ(label_of(dir_ + "/lnk", /*follow=*/true), kernel_label_of(dir_ + "/lnk", true));
  // A name the listing did not have: asked for, and the kernel's answer.
  EXPECT_EQ(label_of(dir_ + "/none"), kernel_label_of(dir_ + "/none"));
  for (int i = 0; i < kFiles; i++) EXPECT_EQ(kernel_label_of(file(i)), kNoData) << i;
}

TEST_P(ListedXattrs, ChangesThroughEitherPathAreSeenAtOnce) {
  // Labels set through the kernel, on a name and on names that will replace others.
  ASSERT_EQ(::lsetxattr(file(10).c_str(), kName, kLabel, sizeof(kLabel), 0), 0);
  ASSERT_EQ(::lsetxattr(file(11).c_str(), kName, kLabel, sizeof(kLabel), 0), 0);
  const std::string labelled(kLabel, sizeof(kLabel));
  list();
  EXPECT_EQ(label_of(file(10)), labelled);
  EXPECT_EQ(label_of(file(1)), kNoData);
  // Through the kernel path, by this process.
  ASSERT_EQ(::lsetxattr(file(1).c_str(), kName, kLabel, sizeof(kLabel), 0), 0);
  EXPECT_EQ(label_of(file(1)), labelled);
  // Through the bypass: a rename over a listed name.
  list();
  EXPECT_EQ(label_of(file(2)), kNoData);
  ASSERT_EQ(finesse_rename(file(10).c_str(), file(2).c_str()), 0);
  ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  EXPECT_EQ(label_of(file(2)), labelled);
  // Through the kernel path: a rename over a listed name.
  list();
  EXPECT_EQ(label_of(file(3)), kNoData);
  ASSERT_EQ(::rename(file(11).c_str(), file(3).c_str()), 0);
  EXPECT_EQ(label_of(file(3)), labelled);
  // By another process, through the kernel path, while this one holds its listing.
  list();
  EXPECT_EQ(label_of(file(4)), kNoData);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0)
    _exit(::lsetxattr(file(4).c_str(), kName, kLabel, sizeof(kLabel), 0) == 0 ? 0 : 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_EQ(status, 0);
  EXPECT_EQ(label_of(file(4)), labelled);
  // Removed through the kernel path: absent again, and listed so.
  ASSERT_EQ(::lremovexattr(file(4).c_str(), kName), 0);
  EXPECT_EQ(label_of(file(4)), kNoData);
  for (int i : {1, 2, 3, 4}) EXPECT_EQ(label_of(file(i)), kernel_label_of(file(i))) << i;
}

// A directory listed again while its entries are fresh: the file system is asked nothing per
// entry (neither their nodes, which the server's cache holds, nor their xattrs, whose absence
// it was told moments ago), until something changes, through either path.
TEST_P(ListedXattrs, ListedAgainWithoutAskingTheFileSystemUntilAChange) {
  list();
  uint64_t before = fs_->stats().fs_calls;
  list();
  // opendir, readdir up to an empty reply, releasedir: nothing for the 22 entries.
  EXPECT_LE(fs_->stats().fs_calls - before, 5u);
  const uint64_t requests = getxattr_requests();
  for (int i = 0; i < kFiles; i++) EXPECT_EQ(label_of(file(i)), kNoData) << i;
  EXPECT_EQ(getxattr_requests(), requests) << "answered from the listing";
  // A label set through the kernel path (memfs keeps ctime: only the change tells).
  const std::string labelled(kLabel, sizeof(kLabel));
  ASSERT_EQ(::lsetxattr(file(7).c_str(), kName, kLabel, sizeof(kLabel), 0), 0);
  list();
  EXPECT_EQ(label_of(file(7)), labelled);
  // Removed through the kernel path by another process.
  list();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(::lremovexattr(file(7).c_str(), kName) == 0 ? 0 : 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_EQ(status, 0);
  list();
  before = getxattr_requests();
  EXPECT_EQ(label_of(file(7)), kNoData);
  EXPECT_EQ(getxattr_requests(), before) << "answered from the listing";
}

// A caller that may list a directory but not look its entries up (read without search
// permission): the listing tells it nothing, and the label is refused as the kernel refuses it.
TEST_P(ListedXattrs, NoAnswerWithoutSearchPermission) {
  const std::string locked = fs_->path("locked");
  ASSERT_EQ(::mkdir(locked.c_str(), 0755), 0);
  int fd = ::open((locked + "/f").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ASSERT_EQ(::chmod(locked.c_str(), 0744), 0);
  const std::string f0 = file(0), lf = locked + "/f";
  int rc = run_as([&] {
    char buf[64];
    // This process reads the label (its listings ask), then lists the locked directory.
    if (finesse_lgetxattr(f0.c_str(), kName, buf, sizeof(buf)) != -1 || errno != ENODATA) return 1;
    DIR *d = finesse_opendir(locked.c_str());
    if (d == nullptr) return 2;
    while (finesse_readdir(d) != nullptr) {
    }
    finesse_closedir(d);
    errno = 0;
    if (finesse_lgetxattr(lf.c_str(), kName, buf, sizeof(buf)) != -1 || errno != EACCES) return 3;
    errno = 0;
    if (::lgetxattr(lf.c_str(), kName, buf, sizeof(buf)) != -1 || errno != EACCES) return 4;
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

// A file system that has the label on every file: after two listings that found nothing
// absent, the process's listings stop asking (each would cost the server a getxattr per entry
// for nothing), and its calls ask the server again.
TEST_P(ListedXattrs, ListingsStopAskingWhenEveryFileHasThem) {
  const std::string labelled = fs_->path("labelled");
  ASSERT_EQ(::mkdir(labelled.c_str(), 0755), 0);
  for (int i = 0; i < 3; i++) {
    const std::string f = labelled + "/l" + std::to_string(i);
    int fd = ::open(f.c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
    ASSERT_EQ(::lsetxattr(f.c_str(), kName, kLabel, sizeof(kLabel), 0), 0);
  }
  for (int round = 0; round < 2; round++) {
    DIR *d = finesse_opendir(labelled.c_str());
    ASSERT_NE(d, nullptr);
    while (finesse_readdir(d) != nullptr) {
    }
    finesse_closedir(d);
  }
  list();
  const uint64_t before = getxattr_requests();
  for (int i = 0; i < kFiles; i++) EXPECT_EQ(label_of(file(i)), kNoData) << i;
  EXPECT_EQ(getxattr_requests(), before + kFiles) << "not answered from the listing";
}

// After `umount -l` (the file system kept alive by an open fd) the path leads to the empty
// mount point: once the server has seen the mount go (it watches mountinfo; a millisecond or
// so), nothing is answered from the listing any more.
TEST_P(ListedXattrs, NothingAfterTheMountWentAway) {
  list();
  EXPECT_EQ(label_of(file(5)), kNoData);
  int keep = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(keep, 0);
  ASSERT_EQ(::umount2(fs_->mnt().c_str(), MNT_DETACH), 0) << strerror(errno);
  std::this_thread::sleep_for(std::chrono::milliseconds(emulated() ? 1000 : 100));
  EXPECT_EQ(label_of(file(5)), "errno " + std::to_string(ENOENT));
  ::close(keep);
}

INSTANTIATE_TEST_SUITE_P(All, ListedXattrs, ::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                         [](const auto &i) { return fs_name(i.param); });

// A change below the file system, which no path tells the server of: without attribute
// caching no listing answers for it; with it, it shows once the attribute timeout (as long as
// the kernel would show a stale size or mode) has passed.
TEST(ListedXattrsBelowTheFileSystem, ShowNoLaterThanTheAttributeTimeout) {
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
    ASSERT_EQ(kernel_label_of(f), kNoData);
    ASSERT_EQ(label_of(f), kNoData);
    DIR *d = finesse_opendir(dir.c_str());
    ASSERT_NE(d, nullptr);
    while (finesse_readdir(d) != nullptr) {
    }
    finesse_closedir(d);
    ASSERT_EQ(::lsetxattr(src.c_str(), kName, kLabel, sizeof(kLabel), 0), 0);
    if (timeout > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    EXPECT_EQ(label_of(f), std::string(kLabel, sizeof(kLabel)));
  }
}

}  // namespace
}  // namespace finesse::testing
