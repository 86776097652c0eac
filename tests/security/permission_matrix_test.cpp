// The permission matrix (see permission_matrix.h) on every mount configuration: each
// operation × caller role × target/parent modes × sticky parent, run through the bypass on
// one tree and through the kernel on its twin. Results, errnos and the resulting trees must be
// identical; any difference is a permission bug in the server.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <tuple>

#include "attached_fs.h"
#include "finesse/finesse.h"
#include "permission_matrix.h"

namespace finesse::testing {
namespace {

using namespace matrix;

using Param = std::tuple<FsKind, bool /*default_permissions*/, bool /*allow_other*/>;

// every: take every n-th mode combination (the passthrough mounts are slower to set up).
std::vector<Case> all_cases(size_t every) {
  std::vector<Case> cases;
  for (const Caller &who : callers())
    for (size_t i = 0; i < mode_set().size(); i += every)
      for (int op = 0; op < static_cast<int>(Op::kCount); op++) {
        const Modes &m = mode_set()[i];
        cases.push_back(Case{static_cast<Op>(op), m, &who, "c" + std::to_string(cases.size())});
      }
  return cases;
}

// Runs the cases of one caller in a child with its credentials; mismatch lines go to out_fd.
// Returns the child's exit code; *bypassed is how many bypass calls the server answered.
int run_caller(const Caller &who, const std::vector<Case> &cases, const std::string &a,
               const std::string &b, int out_fd) {
  bool setuid_like = who.euid != who.uid;
  return run_as(
      [&] {
        if (setuid_like && setresuid(who.uid, who.euid, who.euid) != 0) return 1;
        int bypassed = 0;
        bool trace = getenv("FINESSE_MATRIX_TRACE") != nullptr;  // print every case
        for (const Case &c : cases) {
          if (c.caller != &who) continue;
          Outcome via_bypass = run(a, c, true);
          if (finesse_last_route() == FINESSE_ROUTE_BYPASS) bypassed++;
          Outcome via_kernel = run(b, c, false);
          if (trace)
            fprintf(stderr, "trace %s: %ld/%s\n", c.text().c_str(), via_kernel.rc,
                    strerrorname_np(via_kernel.err) ?: "0");
          if (via_bypass == via_kernel) continue;
          dprintf(out_fd, "%s: bypass %ld/%s [%s] kernel %ld/%s [%s]\n", c.text().c_str(),
                  via_bypass.rc, strerrorname_np(via_bypass.err) ?: "0", via_bypass.data.c_str(),
                  via_kernel.rc, strerrorname_np(via_kernel.err) ?: "0", via_kernel.data.c_str());
        }
        dprintf(out_fd, "#bypassed %s %d\n", role_name(who.role), bypassed);
        return 0;
      },
      setuid_like ? 0 : who.uid, who.gid, who.groups);
}

class PermissionMatrix : public ::testing::TestWithParam<Param> {};

TEST_P(PermissionMatrix, BypassAnswersAsTheKernelDoes) {
  auto [kind, dp, allow_other] = GetParam();
  AttachedFs fs(mount_options(kind, dp, allow_other));
  std::string a = fs.path("a"), b = fs.path("b");
  ASSERT_EQ(mkdir(a.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(b.c_str(), 0755), 0);
  // Every mode combination where the kernel's own checks decide (memfs, default_permissions,
  // allow_other); fewer elsewhere: without allow_other only root is served at all, without
  // default_permissions the file system decides, and passthrough is slower to set up.
  size_t every = kind != FsKind::kMemfs || !allow_other ? 5 : dp ? 1 : 2;
  std::vector<Case> cases = all_cases(every);
  for (const Case &c : cases) {
    prepare(a, c);
    prepare(b, c);
  }
  ASSERT_EQ(describe_tree(a), describe_tree(b));

  FILE *out = tmpfile();
  ASSERT_NE(out, nullptr);
  for (const Caller &who : callers())
    EXPECT_EQ(run_caller(who, cases, a, b, fileno(out)), 0) << role_name(who.role);

  rewind(out);
  int mismatches = 0;
  char line[1024];
  while (fgets(line, sizeof(line), out)) {
    int n = 0;
    char role[16];
    if (sscanf(line, "#bypassed %15s %d", role, &n) == 2) {
      bool served = allow_other || std::string(role) == "root";
      if (served) {
        EXPECT_GT(n, 0) << role << ": the bypass was never taken";
      }
      printf("%s: %d calls bypassed\n", role, n);
      continue;
    }
    if (++mismatches <= 40) ADD_FAILURE() << line;
  }
  fclose(out);
  for (const Case &c : cases) {
    std::string ta = describe_tree(a + "/" + c.dir), tb = describe_tree(b + "/" + c.dir);
    if (ta != tb && ++mismatches <= 60)
      ADD_FAILURE() << c.text() << ": trees differ\n--- bypass\n" << ta << "--- kernel\n" << tb;
  }
  EXPECT_EQ(mismatches, 0) << "of " << cases.size() << " cases";
}

std::string name(const ::testing::TestParamInfo<Param> &i) {
  return fs_name(std::get<0>(i.param)) + (std::get<1>(i.param) ? "_dp" : "_nodp") +
         (std::get<2>(i.param) ? "_allow_other" : "_owner_only");
}

INSTANTIATE_TEST_SUITE_P(Memfs, PermissionMatrix,
                         ::testing::Combine(::testing::Values(FsKind::kMemfs), ::testing::Bool(),
                                            ::testing::Bool()),
                         name);
INSTANTIATE_TEST_SUITE_P(Passthrough, PermissionMatrix,
                         ::testing::Combine(::testing::Values(FsKind::kPassthrough),
                                            ::testing::Bool(), ::testing::Values(true)),
                         name);

}  // namespace
}  // namespace finesse::testing
