// The same seeded random sequence of operations through the bypass and through the kernel,
// on twin trees of one mount: every result, errno and the final trees must be identical.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <tuple>

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
