// Lookup counting of the low-level file systems, seen through their debug attribute
// user.finesse.nlookup on the root: every lookup the kernel holds must eventually be
// forgotten, and the daemon's count must follow (a leak here is a memory leak in a daemon,
// an underflow a use-after-free).
#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "fs_fixture.h"
#include "fs_util.h"

namespace finesse::kernel_path {
namespace {

using namespace std::chrono_literals;

class LookupCountTest : public MountedFsTest {
 protected:
  long nlookup() {
    char buffer[32] = {};
    const ssize_t n = getxattr(root().c_str(), "user.finesse.nlookup", buffer, sizeof buffer - 1);
    if (n < 0) {
      ADD_FAILURE() << "getxattr user.finesse.nlookup: " << errno_name(errno);
      return -1;
    }
    return std::stol(std::string(buffer, static_cast<size_t>(n)));
  }

  // Makes the kernel evict unused dentries and inodes, which sends FORGETs to the daemon.
  static void drop_kernel_caches() {
    sync();
    std::ofstream("/proc/sys/vm/drop_caches") << "2\n";
  }

  // FORGETs are asynchronous: poll until the count settles at `expected`.
  bool settles_at(long expected) {
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    while (nlookup() != expected) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      drop_kernel_caches();
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }
};

TEST_P(LookupCountTest, DebugAttributeIsReadableButNotListed) {
  char value[32] = {};
  const ssize_t n = getxattr(root().c_str(), "user.finesse.nlookup", value, sizeof value - 1);
  ASSERT_GT(n, 0) << errno_name(errno);
  EXPECT_TRUE(std::all_of(value, value + n, ::isdigit)) << value;
  char names[4096];
  const ssize_t list = listxattr(root().c_str(), names, sizeof names);
  ASSERT_GE(list, 0) << errno_name(errno);
  EXPECT_EQ(std::string(names, static_cast<size_t>(list)).find("finesse"), std::string::npos);
}

TEST_P(LookupCountTest, LookupsOfNewFilesAreCountedAndForgotten) {
  drop_kernel_caches();
  ASSERT_TRUE(settles_at(0)) << "a fresh mount holds no lookups besides the root: " << nlookup();
  for (int i = 0; i < 10; ++i) write_file(p("f" + std::to_string(i)), "x");
  struct stat st;
  for (int i = 0; i < 10; ++i) ASSERT_OK(stat(p("f" + std::to_string(i)).c_str(), &st));
  EXPECT_GE(nlookup(), 10) << "each cached inode holds at least one lookup";
  EXPECT_TRUE(settles_at(0)) << "after the kernel dropped its caches: " << nlookup();
}

TEST_P(LookupCountTest, UnlinkedFilesAreForgotten) {
  ASSERT_OK(mkdir(p("d").c_str(), 0755));
  for (int i = 0; i < 20; ++i) write_file(p("d/f" + std::to_string(i)), "x");
  for (int i = 0; i < 20; ++i) ASSERT_OK(unlink(p("d/f" + std::to_string(i)).c_str()));
  ASSERT_OK(rmdir(p("d").c_str()));
  EXPECT_TRUE(settles_at(0)) << nlookup();
}

TEST_P(LookupCountTest, RenamesLinksAndSymlinksKeepTheCountConsistent) {
  ASSERT_OK(mkdir(p("a").c_str(), 0755));
  ASSERT_OK(mkdir(p("b").c_str(), 0755));
  write_file(p("a/f"), "x");
  ASSERT_OK(link(p("a/f").c_str(), p("b/g").c_str()));
  ASSERT_OK(symlink("../a/f", p("b/s").c_str()));
  ASSERT_OK(rename(p("a/f").c_str(), p("b/f").c_str()));
  ASSERT_OK(renameat2(AT_FDCWD, p("b/g").c_str(), AT_FDCWD, p("a").c_str(), RENAME_EXCHANGE));
  EXPECT_EQ(read_file(p("a")), "x");
  // Held open while the caches are dropped: its lookup must survive.
  const int fd = open(p("b/f").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  drop_kernel_caches();
  EXPECT_GE(nlookup(), 1) << "an open file's inode is still referenced";
  close(fd);
  EXPECT_TRUE(settles_at(0)) << nlookup();
  EXPECT_EQ(read_file(p("b/f")), "x") << "files are still reachable after being forgotten";
}

INSTANTIATE_TEST_SUITE_P(Fs, LookupCountTest, ::testing::ValuesIn(lowlevel_fs()), param_label);

}  // namespace
}  // namespace finesse::kernel_path
