// Kernel opens without a round trip (FINESSE_KERNEL_NO_OPEN=1, fuse-ext/kernel_handles.h):
// the passthrough on a default_permissions mount, every data path of the kernel checked
// against what the file system's source holds, and the requests the daemon got counted.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

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
    EXPECT_EQ(differs(slurp(fs_.path(rel)), want), "") << rel << " through the mount";
    EXPECT_EQ(differs(slurp(src(rel)), want), "") << rel << " in the source";
  }
  // "" or where got and want part (files here can be 10 KiB).
  static std::string differs(const std::string &got, const std::string &want) {
    if (got == want) return "";
    size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) i++;
    return "sizes " + std::to_string(got.size()) + " and " + std::to_string(want.size()) +
           ", first difference at " + std::to_string(i);
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

// An fd held open across truncates through the bypass: what it reads and fstat says follow.
TEST_F(NoOpenData, AnOpenFileFollowsTruncatesThroughTheBypass) {
  const std::string f = fs_.path("t");
  std::ofstream(f) << std::string(9000, 'x');
  int fd = open(f.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char buf[10000];
  ASSERT_EQ(pread(fd, buf, sizeof(buf), 0), 9000);
  ASSERT_EQ(finesse_truncate(f.c_str(), 100), 0);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 100);
  EXPECT_EQ(pread(fd, buf, sizeof(buf), 0), 100);
  ASSERT_EQ(pwrite(fd, "y", 1, 5000), 1);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 5001);
  ASSERT_EQ(pread(fd, buf, sizeof(buf), 0), 5001);
  EXPECT_EQ(buf[100], '\0');
  EXPECT_EQ(buf[4999], '\0');
  ASSERT_EQ(finesse_truncate(f.c_str(), 7000), 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 7000);
  // An append lands at the file's end, not at a size the kernel had cached before the
  // truncate: the file system's handle is an O_APPEND one, as its OPEN would have made.
  int ap = open(f.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(ap, 0);
  ASSERT_EQ(finesse_truncate(f.c_str(), 10), 0);
  ASSERT_EQ(write(ap, "z", 1), 1);
  close(ap);
  close(fd);
  expect_file("t", std::string(10, 'x') + "z");
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

// Threads writing and reading back their own files, more of them than the extension keeps
// handles for: handles are opened, shared, evicted and reopened under them.
TEST_F(NoOpenData, ThreadsWritingAndReadingPastTheHandleLimit) {
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 100; i++) {
          const std::string f = fs_.path("p" + std::to_string(t) + "_" + std::to_string(i));
          const std::string want = std::to_string(t * 1000 + i) + "/" + std::to_string(round);
          int fd = open(f.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
          if (fd < 0 || write(fd, want.data(), want.size()) != static_cast<ssize_t>(want.size()))
            bad++;
          if (fd >= 0) close(fd);
          if (slurp(f) != want) bad++;
        }
      }
    });
  }
  for (auto &th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  for (int t = 0; t < 4; t++)
    for (int i = 0; i < 100; i += 17) {
      const std::string rel = "p" + std::to_string(t) + "_" + std::to_string(i);
      expect_file(rel, std::to_string(t * 1000 + i) + "/2");
    }
}

// The same random data operations on the mount (several fds open at once, kernel path and
// bypassed truncates) and on a native twin directory: every read, every size and the final
// contents in the file system's source agree.
void random_data_operations(
    AttachedFs &fs_,
    const std::function<void(const std::string &, const std::string &)> &expect_file) {
  TempDir twin;
  const int kFiles = 4, kFds = 6;
  auto name = [](int f) { return "r" + std::to_string(f); };
  struct Fd {
    int mnt = -1, nat = -1, file = 0;
  };
  Fd fds[kFds];
  // FINESSE_TEST_SEED: another sequence (the failure message names the step).
  const char *seed_env = getenv("FINESSE_TEST_SEED");
  unsigned seed = seed_env != nullptr ? static_cast<unsigned>(atol(seed_env)) : 12345;
  auto rnd = [&](unsigned n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 8) % n;
  };
  char a[9000], b[9000], data[4096];
  int mismatches = 0;
  for (int step = 0; step < 3000 && mismatches < 5; step++) {
    Fd &d = fds[rnd(kFds)];
    const std::string m = fs_.path(name(d.file)), n = twin.sub(name(d.file));
    const unsigned op = rnd(10);
    if (d.mnt < 0 || op == 0) {  // (re)open, maybe another file, with random flags
      if (d.mnt >= 0) close(d.mnt), close(d.nat);
      d.file = static_cast<int>(rnd(kFiles));
      const int flags[] = {O_RDWR | O_CREAT, O_WRONLY | O_APPEND | O_CREAT,
                           O_RDWR | O_TRUNC | O_CREAT, O_RDONLY};
      int fl = flags[rnd(4)];
      d.mnt = open(fs_.path(name(d.file)).c_str(), fl, 0644);
      d.nat = open(twin.sub(name(d.file)).c_str(), fl, 0644);
      if ((d.mnt < 0) != (d.nat < 0)) {
        ADD_FAILURE() << "step " << step << " open " << fl << ": " << d.mnt << " vs " << d.nat;
        mismatches++;
      }
      if (d.mnt < 0 || d.nat < 0) {
        if (d.mnt >= 0) close(d.mnt);
        if (d.nat >= 0) close(d.nat);
        d.mnt = d.nat = -1;
      }
      continue;
    }
    off_t off = rnd(8192);
    size_t len = 1 + rnd(sizeof(data) - 1);
    long rm = 0, rn = 0;
    switch (op) {
      case 1:
      case 2:
        for (size_t i = 0; i < len; i++) data[i] = static_cast<char>('a' + (step + i) % 26);
        rm = pwrite(d.mnt, data, len, off), rn = pwrite(d.nat, data, len, off);
        break;
      case 3:
        for (size_t i = 0; i < len; i++) data[i] = static_cast<char>('A' + (step + i) % 26);
        rm = write(d.mnt, data, len), rn = write(d.nat, data, len);
        break;
      case 4:
      case 5:
      case 6:
        rm = pread(d.mnt, a, sizeof(a), 0), rn = pread(d.nat, b, sizeof(b), 0);
        if (rm == rn && rm > 0 && memcmp(a, b, static_cast<size_t>(rm)) != 0) rm = -2;
        break;
      case 7:
        rm = ftruncate(d.mnt, off) == 0 ? 0 : -errno, rn = ftruncate(d.nat, off) == 0 ? 0 : -errno;
        break;
      case 8:  // by path: through the bypass (libfinesse) and natively
        rm = finesse_truncate(m.c_str(), off) == 0 ? 0 : -errno;
        rn = truncate(n.c_str(), off) == 0 ? 0 : -errno;
        break;
      case 9: {
        struct stat sm, sn;
        rm = fstat(d.mnt, &sm) == 0 ? sm.st_size : -errno;
        rn = fstat(d.nat, &sn) == 0 ? sn.st_size : -errno;
        break;
      }
    }
    if (rm != rn) {
      ADD_FAILURE() << "step " << step << " op " << op << " on " << name(d.file) << ": " << rm
                    << " vs " << rn;
      mismatches++;
    }
  }
  for (Fd &d : fds)
    if (d.mnt >= 0) close(d.mnt), close(d.nat);
  for (int f = 0; f < kFiles; f++) {
    if (access(twin.sub(name(f)).c_str(), F_OK) != 0) continue;
    expect_file(name(f), slurp(twin.sub(name(f))));
  }
}

TEST_F(NoOpenData, RandomDataOperationsMatchANativeTwin) {
  random_data_operations(fs_,
                         [&](const std::string &r, const std::string &w) { expect_file(r, w); });
}

// The same sequence without the mode: the reference that the sequence itself holds on the
// kernel path (bypassed truncates under open fds and O_APPEND included).
TEST(KernelNoOpen, RandomDataOperationsWithoutTheMode) {
  AttachedFs fs(no_open_options("0"));
  random_data_operations(fs, [&](const std::string &r, const std::string &w) {
    EXPECT_TRUE(slurp(fs.path(r)) == w) << r;
  });
}

}  // namespace
}  // namespace finesse::testing
