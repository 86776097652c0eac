// Kernel opens without a round trip (FINESSE_KERNEL_NO_OPEN=1, fuse-ext/kernel_handles.h):
// the passthrough on a default_permissions mount, every data path of the kernel checked
// against what the file system's source holds, and the requests the daemon got counted.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "attached_fs.h"
#include "finesse/finesse.h"

namespace finesse::testing {
namespace {

MountOptions no_open_options(const char *knob, bool default_permissions = true) {
  MountOptions o;
  o.fs = FsKind::kPassthrough;
  o.default_permissions = default_permissions;
  o.env["FINESSE_KERNEL_NO_OPEN"] = knob;
  return o;
}

std::string slurp(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int open_fds_of(pid_t pid) {
  int n = 0;
  DIR *d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (d == nullptr) return -1;
  while (readdir(d) != nullptr) n++;
  closedir(d);
  return n - 2;
}

// Opens, reads and closes path n times; the requests the daemon got meanwhile.
uint64_t requests_for_reopens(AttachedFs &fs, const std::string &path, int n) {
  uint64_t k0 = fs.stats().kernel_ops;
  for (int i = 0; i < n; i++) {
    int fd = open(path.c_str(), O_RDONLY);
    EXPECT_GE(fd, 0) << strerror(errno);
    char buf[64];
    EXPECT_GT(read(fd, buf, sizeof(buf)), 0);
    close(fd);
  }
  return fs.stats().kernel_ops - k0;
}

TEST(KernelNoOpen, OpensAndClosesOfACachedFileAskTheDaemonNothing) {
  AttachedFs on(no_open_options("1"));
  AttachedFs off(no_open_options("0"));
  for (AttachedFs *fs : {&on, &off}) {
    std::ofstream(fs->path("f")) << "some data\n";
    ASSERT_EQ(slurp(fs->path("f")), "some data\n");
  }
  // Off: an OPEN, a FLUSH and a RELEASE each time; on: nothing (the data is cached).
  uint64_t with = requests_for_reopens(on, on.path("f"), 200);
  uint64_t without = requests_for_reopens(off, off.path("f"), 200);
  EXPECT_LT(with, 10u);
  EXPECT_GE(without, 400u);
}

TEST(KernelNoOpen, NotUsedWithoutDefaultPermissions) {
  AttachedFs fs(no_open_options("1", /*default_permissions=*/false));
  std::ofstream(fs.path("f")) << "x\n";
  EXPECT_GE(requests_for_reopens(fs, fs.path("f"), 50), 100u);
  EXPECT_NE(fs.fs().daemon_stderr().find("no default_permissions"), std::string::npos)
      << fs.fs().daemon_stderr();
}

class NoOpenData : public ::testing::Test {
 protected:
  AttachedFs fs_{no_open_options("1")};
  std::string src(const std::string &rel) { return fs_.fs().source() + "/" + rel; }
  // What the kernel path reads equals what the file system holds.
  void expect_file(const std::string &rel, const std::string &want) {
    EXPECT_EQ(slurp(fs_.path(rel)), want) << rel << " through the mount";
    EXPECT_EQ(slurp(src(rel)), want) << rel << " in the source";
  }
};

TEST_F(NoOpenData, WritesAppendsTruncationsAndMmapReachTheFileSystem) {
  const std::string f = fs_.path("w");
  int fd = open(f.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "hello world\n", 12), 12);
  ASSERT_EQ(pwrite(fd, "HELLO", 5, 0), 5);
  close(fd);
  expect_file("w", "HELLO world\n");

  fd = open(f.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "more\n", 5), 5);
  close(fd);
  expect_file("w", "HELLO world\nmore\n");

  // O_TRUNC without an OPEN: the kernel truncates with a SETATTR.
  fd = open(f.c_str(), O_RDWR | O_TRUNC);
  ASSERT_GE(fd, 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 0);
  ASSERT_EQ(write(fd, "abc", 3), 3);
  ASSERT_EQ(ftruncate(fd, 6), 0);
  close(fd);
  expect_file("w", std::string("abc\0\0\0", 6));
  ASSERT_EQ(truncate(f.c_str(), 2), 0);
  expect_file("w", "ab");

  // A shared mapping written back.
  ASSERT_EQ(truncate(f.c_str(), 4096), 0);
  fd = open(f.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  void *m = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(m, MAP_FAILED);
  memcpy(m, "mapped", 6);
  ASSERT_EQ(msync(m, 4096, MS_SYNC), 0);
  munmap(m, 4096);
  ASSERT_EQ(fsync(fd), 0);
  close(fd);
  std::string want(4096, '\0');
  memcpy(want.data(), "mapped", 6);
  expect_file("w", want);
}

TEST_F(NoOpenData, ChangesBehindTheKernelAreReadAfterTheyAreSeen) {
  std::ofstream(fs_.path("c")) << "first\n";
  ASSERT_EQ(slurp(fs_.path("c")), "first\n");
  // Through the bypass: the kernel's cached pages of the file must not be what it reads.
  ASSERT_EQ(finesse_truncate(fs_.path("c").c_str(), 2), 0);
  EXPECT_EQ(slurp(fs_.path("c")), "fi");
  // Through the kernel path from another file of the same inode.
  std::ofstream(fs_.path("c")) << "second, longer\n";
  EXPECT_EQ(slurp(fs_.path("c")), "second, longer\n");
}

TEST_F(NoOpenData, AnUnlinkedOpenFileStaysReadableAndWritable) {
  const std::string f = fs_.path("u");
  std::ofstream(f) << "kept\n";
  int fd = open(f.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(unlink(f.c_str()), 0);
  char buf[16] = {};
  ASSERT_EQ(pread(fd, buf, sizeof(buf), 0), 5);
  EXPECT_STREQ(buf, "kept\n");
  ASSERT_EQ(pwrite(fd, "KEPT", 4, 0), 4);
  ASSERT_EQ(pread(fd, buf, sizeof(buf), 0), 5);
  EXPECT_EQ(std::string(buf, 5), "KEPT\n");
  close(fd);
}

TEST_F(NoOpenData, TheExtensionsHandlesStayBoundedOverManyFiles) {
  for (int i = 0; i < 600; i++) std::ofstream(src("m" + std::to_string(i))) << i << "\n";
  int before = open_fds_of(fs_.fs().daemon_pid());
  for (int i = 0; i < 600; i++)
    ASSERT_EQ(slurp(fs_.path("m" + std::to_string(i))), std::to_string(i) + "\n");
  int after = open_fds_of(fs_.fs().daemon_pid());
  // At most 256 handles of the extension's, and the passthrough's own fd per inode the kernel
  // holds (600): bounded, not one per open ever made.
  EXPECT_LE(after - before, 256 + 600 + 16) << before << " -> " << after;
}

}  // namespace
}  // namespace finesse::testing
