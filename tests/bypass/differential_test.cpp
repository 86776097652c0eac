// The same seeded random sequence of operations through the bypass and through the kernel,
// on twin trees of one mount: every result, errno and the final trees must be identical.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <string.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <tuple>
#include <vector>

#include "attached_fs.h"
#include "op_pair.h"

namespace finesse::testing {
namespace {

// Random operations per sequence: FINESSE_DIFF_OPS, default 10,000 (the VM suite runs fewer:
// vm-tests/kernels.json, guest env).
const int kOps = [] {
  const char *e = getenv("FINESSE_DIFF_OPS");
  int n = e ? atoi(e) : 0;
  return n > 0 ? n : 10000;
}();

// Runs the sequence; returns the number of mismatches (printing the first ones).
int run_sequence(const std::string &a, const std::string &b, bool root, uint32_t seed,
                 int *bypassed) {
  std::mt19937 rng(seed);
  int mismatches = 0;
  const char *trace = getenv("FINESSE_DIFF_TRACE");  // print every op whose text has this
  *bypassed = 0;
  for (int i = 0; i < kOps; i++) {
    RandomOp op = run_random_op(rng, a, b, root);
    if (op.bypassed) ++*bypassed;
    if (trace && op.text.find(trace) != std::string::npos)
      fprintf(stderr, "trace %d %s: bypass %ld/%d [%s] kernel %ld/%d [%s]\n", i, op.text.c_str(),
              op.bypass.rc, op.bypass.err, op.bypass.data.c_str(), op.kernel.rc, op.kernel.err,
              op.kernel.data.c_str());
    if (!(op.bypass == op.kernel)) {
      if (++mismatches <= 10)
        fprintf(stderr, "op %d %s: bypass rc=%ld errno=%d [%s] kernel rc=%ld errno=%d [%s]\n", i,
                op.text.c_str(), op.bypass.rc, op.bypass.err, op.bypass.data.c_str(),
                op.kernel.rc, op.kernel.err, op.kernel.data.c_str());
    }
  }
  std::string ta = describe_tree(a), tb = describe_tree(b);
  if (ta != tb) {
    fprintf(stderr, "final trees differ:\n--- bypass\n%s--- kernel\n%s", ta.c_str(), tb.c_str());
    mismatches++;
  }
  return mismatches;
}

using Param = std::tuple<FsKind, bool /*default_permissions*/, bool /*as root*/>;

class Differential : public ::testing::TestWithParam<Param> {};

TEST_P(Differential, SameAnswersBothWays) {
  auto [kind, dp, root] = GetParam();
  AttachedFs fs(mount_options(kind, dp, true));
  std::string a, b;
  ASSERT_TRUE(build_twin_trees(fs.mnt(), &a, &b));
  uint32_t seed = 12345u + (dp ? 1 : 0) + (root ? 2 : 0);
  if (root) {
    int bypassed = 0;
    EXPECT_EQ(run_sequence(a, b, true, seed, &bypassed), 0);
    EXPECT_GT(bypassed, kOps / 2) << "most calls must really take the bypass";
  } else {
    int status = run_as([&] {
      int bypassed = 0;
      int m = run_sequence(a, b, false, seed, &bypassed);
      if (m) return 1;
      return bypassed > kOps / 3 ? 0 : 2;  // nobody is refused a lot; still mostly bypassed
    });
    EXPECT_EQ(status, 0) << "1: mismatches (see stderr), 2: too few calls bypassed";
  }
  EXPECT_GT(fs.served_total(), 0u);
}

// Symlink targets of a page and more (a file system may answer anything; no local one can
// store them): the kernel takes at most PAGE_SIZE - 1 bytes and fails the call with EIO
// otherwise. The bypass must answer the same, and copy nothing but the target.
TEST(Readlink, OverLongTargetsAsTheKernel) {
  MountOptions o;
  o.binary = bin_dir() + "/finesse-longlink-test";
  AttachedFs fs(o);
  for (const char *link : {"long", "edge", "page"}) {
    for (size_t size : {size_t{6000}, size_t{4096}, size_t{10}}) {
      SCOPED_TRACE(std::string(link) + " into " + std::to_string(size));
      std::string p = fs.path(link);
      std::vector<char> kbuf(size + 64, '#'), bbuf(size + 64, '#');
      errno = 0;
      ssize_t k = readlink(p.c_str(), kbuf.data(), size);
      int kerr = k < 0 ? errno : 0;
      errno = 0;
      ssize_t b = finesse_readlink(p.c_str(), bbuf.data(), size);
      int berr = b < 0 ? errno : 0;
      EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
      EXPECT_EQ(b, k);
      EXPECT_EQ(berr, kerr) << strerror(berr) << " vs the kernel's " << strerror(kerr);
      EXPECT_EQ(bbuf, kbuf) << "bytes other than the kernel's";
    }
  }
  EXPECT_GT(fs.served_total(), 0u);
}

// On a writeback-cache mount the kernel owns a regular file's size and times (it keeps them
// over what the file system says: fuse_change_attributes); after a write through the kernel
// whose pages are still dirty, the file system has not even seen the data. The stat family
// through the bypass must answer what the kernel answers.
TEST(WritebackCache, StatAfterKernelWriteIsTheKernels) {
  MountOptions o;
  o.binary = bin_dir() + "/finesse-longlink-test";
  o.env["FINESSE_TEST_WRITEBACK"] = "1";
  AttachedFs fs(o);
  std::string f = fs.path("file");
  int fd = open(f.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  std::string data(10000, 'w');
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  struct stat k, b;
  ASSERT_EQ(stat(f.c_str(), &k), 0);
  ASSERT_EQ(k.st_size, 10000);
  ASSERT_EQ(finesse_stat(f.c_str(), &b), 0);
  EXPECT_EQ(b.st_size, k.st_size) << "stat";
  EXPECT_EQ(b.st_mtim.tv_sec, k.st_mtim.tv_sec);
  EXPECT_EQ(b.st_mtim.tv_nsec, k.st_mtim.tv_nsec);
  ASSERT_EQ(finesse_fstat(fd, &b), 0);
  EXPECT_EQ(b.st_size, k.st_size) << "fstat";
  struct statx x {};
  ASSERT_EQ(finesse_statx(AT_FDCWD, f.c_str(), 0, STATX_BASIC_STATS, &x), 0);
  EXPECT_EQ(x.stx_size, static_cast<uint64_t>(k.st_size)) << "statx";
  EXPECT_EQ(x.stx_mtime.tv_nsec, static_cast<uint32_t>(k.st_mtim.tv_nsec));
  close(fd);
}

std::string name(const ::testing::TestParamInfo<Param> &i) {
  return fs_name(std::get<0>(i.param)) + (std::get<1>(i.param) ? "_dp" : "_nodp") +
         (std::get<2>(i.param) ? "_root" : "_nobody");
}

INSTANTIATE_TEST_SUITE_P(All, Differential,
                         ::testing::Combine(::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                                            ::testing::Bool(), ::testing::Bool()),
                         name);

}  // namespace
}  // namespace finesse::testing
