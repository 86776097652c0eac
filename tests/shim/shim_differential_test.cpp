// The libfinesse differential sequence again, through the shim, from a program that calls
// plain libc (shim_ops): once under LD_PRELOAD on tree a, once without on its twin b of the
// same attached mount. Every result line, errno and the final trees must be identical, and
// the server's counters must show that the bypass served the shim run (and not the other).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include <string>
#include <tuple>

#include "attached_fs.h"
#include "op_pair.h"
#include "shim_util.h"

namespace finesse::testing {
namespace {

constexpr int kOps = 4000;

using Param = std::tuple<FsKind, bool /*default_permissions*/, bool /*as root*/>;
class ShimDifferential : public ::testing::TestWithParam<Param> {};

TEST_P(ShimDifferential, SameLinesWithAndWithoutShim) {
  auto [kind, dp, root] = GetParam();
  AttachedFs fs(mount_options(kind, dp, true));
  std::string a, b;
  ASSERT_TRUE(build_twin_trees(fs.mnt(), &a, &b));
  std::string seed = std::to_string(777 + (dp ? 1 : 0) + (root ? 2 : 0));
  std::string who = root ? "root" : "nobody";
  std::string prog = bin_dir() + "/finesse-shim-ops";

  uint64_t s0 = fs.served_total();
  CommandResult ra = run_command({prog, a, seed, std::to_string(kOps), who}, with_shim());
  uint64_t s1 = fs.served_total();
  CommandResult rb = run_command({prog, b, seed, std::to_string(kOps), who});
  uint64_t s2 = fs.served_total();

  if (const char *dump = getenv("FINESSE_SHIM_DUMP")) {  // debugging aid: both outputs
    FILE *f = fopen((std::string(dump) + ".shim").c_str(), "w");
    if (f) fputs(ra.out.c_str(), f), fclose(f);
    f = fopen((std::string(dump) + ".kernel").c_str(), "w");
    if (f) fputs(rb.out.c_str(), f), fclose(f);
  }
  ASSERT_EQ(ra.status, 0) << ra.err;
  ASSERT_EQ(rb.status, 0) << rb.err;
  EXPECT_EQ(lines_of(ra.out).size(), static_cast<size_t>(kOps));
  EXPECT_EQ(ra.out.find("ERRNO-CHANGED"), std::string::npos)
      << "errno changed by a successful call";
  EXPECT_EQ(rb.out.find("ERRNO-CHANGED"), std::string::npos);
  EXPECT_EQ(diff_lines(ra.out, rb.out), 0);
  EXPECT_EQ(describe_tree(a), describe_tree(b));
  // Most calls are bypassable; as nobody many are refused early, still most go over the bypass.
  EXPECT_GT(s1 - s0, static_cast<uint64_t>(root ? kOps / 2 : kOps / 3))
      << "the bypass must really serve the shim run";
  EXPECT_EQ(s2, s1) << "the run without the shim must not touch the bypass";
}

std::string name(const ::testing::TestParamInfo<Param> &i) {
  return fs_name(std::get<0>(i.param)) + (std::get<1>(i.param) ? "_dp" : "_nodp") +
         (std::get<2>(i.param) ? "_root" : "_nobody");
}

INSTANTIATE_TEST_SUITE_P(All, ShimDifferential,
                         ::testing::Combine(::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                                            ::testing::Bool(), ::testing::Bool()),
                         name);

}  // namespace
}  // namespace finesse::testing
