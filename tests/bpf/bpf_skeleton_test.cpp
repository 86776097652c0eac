// Loads the hello skeleton into the running kernel and checks what its CO-RE reads report
// against what user space sees (statfs, fstat, /proc/self/fdinfo).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "bpf_loader.h"
#include "hello.h"
#include "hello.skel.h"

namespace {

using finesse::bpf::Skeleton;

// Skips only when the kernel has no BPF/BTF at all; every other failure must fail the test.
#define SKIP_WITHOUT_BPF()                                    \
  do {                                                        \
    if (auto missing = finesse::bpf::missing_bpf_feature()) { \
      GTEST_SKIP() << "kernel lacks " << *missing;            \
    }                                                         \
  } while (0)

hello_stats read_stats(const hello_bpf *skel) {
  hello_stats s{};
  __u32 key = 0;
  int rc = bpf_map__lookup_elem(skel->maps.stats, &key, sizeof(key), &s, sizeof(s), 0);
  EXPECT_EQ(rc, 0) << finesse::bpf::errno_error("lookup stats", rc).text();
  return s;
}

// mnt_id of an open fd, as the kernel reports it in /proc/self/fdinfo/<fd>.
long fdinfo_mnt_id(int fd) {
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("mnt_id:", 0) == 0) return std::stol(line.substr(7));
  }
  return -1;
}

class HelloSkeletonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_BPF();
    auto opened = Skeleton<hello_bpf>::open(FINESSE_BPF_SKELETON_OPS(hello_bpf));
    ASSERT_TRUE(opened) << opened.error().text();
    skel_.emplace(std::move(*opened));
    (*skel_)->rodata->target_tgid = static_cast<__u32>(getpid());
    auto loaded = skel_->load();
    ASSERT_TRUE(loaded) << loaded.error().text();
    auto tracefs = finesse::bpf::ensure_tracefs();  // tracepoint attach resolves ids there
    ASSERT_TRUE(tracefs) << tracefs.error().text();
    auto attached = skel_->attach();
    ASSERT_TRUE(attached) << attached.error().text();

    char tmpl[] = "/tmp/finesse-bpf-test-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0) << "mkstemp: " << strerror(errno);
    close(fd);
    path_ = tmpl;
  }

  void TearDown() override {
    if (!path_.empty()) unlink(path_.c_str());
  }

  const hello_bpf *skel() const { return skel_->get(); }

  std::optional<Skeleton<hello_bpf>> skel_;
  std::string path_;
};

TEST_F(HelloSkeletonTest, CountsOpenatCallsOfThisProcess) {
  constexpr int kCalls = 5;
  const hello_stats before = read_stats(skel());
  for (int i = 0; i < kCalls; ++i) {
    int fd = openat(AT_FDCWD, path_.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << "openat: " << strerror(errno);
    close(fd);
  }
  const hello_stats after = read_stats(skel());
  EXPECT_EQ(after.enter_calls - before.enter_calls, static_cast<__u64>(kCalls));
  EXPECT_EQ(after.exit_calls - before.exit_calls, static_cast<__u64>(kCalls));
}

TEST_F(HelloSkeletonTest, CountsFailedOpenatToo) {
  const hello_stats before = read_stats(skel());
  errno = 0;
  EXPECT_LT(openat(AT_FDCWD, (path_ + ".missing").c_str(), O_RDONLY), 0);
  EXPECT_EQ(errno, ENOENT);
  const hello_stats after = read_stats(skel());
  EXPECT_EQ(after.enter_calls - before.enter_calls, 1u);
  EXPECT_EQ(after.exit_calls - before.exit_calls, 1u);
  EXPECT_EQ(after.last_fd, before.last_fd);  // nothing recorded for a failed open
}

TEST_F(HelloSkeletonTest, AllCoreFieldsExistInKernelBtf) {
  int fd = openat(AT_FDCWD, path_.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << "openat: " << strerror(errno);
  close(fd);
  EXPECT_EQ(read_stats(skel()).missing_fields, 0u)
      << "bit i set = field i of hello.bpf.c's CO-RE checklist is missing";
}

// Opens the tmp file and a procfs file in turn: the CO-RE walk task->files->fdt->fd[fd]->
// f_inode->i_sb must follow, and so must f_path.mnt -> struct mount -> mnt_id.
TEST_F(HelloSkeletonTest, RecordsFileSystemInodeAndMountOfOpenedFile) {
  for (const std::string &file : {path_, std::string("/proc/self/status"), path_}) {
    SCOPED_TRACE(file);
    int fd = openat(AT_FDCWD, file.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << "openat: " << strerror(errno);
    const hello_stats s = read_stats(skel());
    struct statfs sfs {};
    struct stat st {};
    struct stat cwd {};
    ASSERT_EQ(fstatfs(fd, &sfs), 0);
    ASSERT_EQ(fstat(fd, &st), 0);
    ASSERT_EQ(stat(".", &cwd), 0);
    const long mnt_id = fdinfo_mnt_id(fd);  // reading fdinfo opens: after read_stats
    close(fd);

    EXPECT_EQ(s.last_fd, fd);
    EXPECT_EQ(s.last_magic, static_cast<__u64>(sfs.f_type));
    EXPECT_EQ(s.last_ino, static_cast<__u64>(st.st_ino));
    EXPECT_EQ(s.last_mnt_id, mnt_id);
    EXPECT_EQ(s.cwd_ino, static_cast<__u64>(cwd.st_ino));
  }
}

TEST(BpfHelpers, EnsureBpffsMountsOrFindsIt) {
  SKIP_WITHOUT_BPF();
  auto r = finesse::bpf::ensure_bpffs();
  ASSERT_TRUE(r) << r.error().text();
  struct statfs st {};
  ASSERT_EQ(statfs("/sys/fs/bpf", &st), 0);
  EXPECT_EQ(st.f_type, 0xcafe4a11);           // BPF_FS_MAGIC
  EXPECT_TRUE(finesse::bpf::ensure_bpffs());  // idempotent
}

TEST(BpfHelpers, ErrorTextNamesStepAndErrno) {
  const auto e = finesse::bpf::errno_error("load thing", -EPERM);
  EXPECT_EQ(e.code, EPERM);
  EXPECT_NE(e.text().find("load thing"), std::string::npos);
  EXPECT_NE(e.text().find("errno 1"), std::string::npos);
}

}  // namespace
