// The journal check itself: it must accept what the kernel does, and catch a lost, a doubled
// or a wrongly reported operation.
#include "journal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

namespace finesse::testing::journal {
namespace {

// An empty directory (a TempDir itself holds the harness's .owner file).
class Dir {
 public:
  Dir() { mkdir(path().c_str(), 0755); }
  std::string path() const { return tmp_.sub("w"); }
  std::string sub(const std::string &name) const { return path() + "/" + name; }

 private:
  TempDir tmp_;
};

Entry op(Op o, std::string a, int err = 0, std::string b = "", uint32_t mode = 0) {
  Entry e;
  e.op = o;
  e.a = std::move(a);
  e.b = std::move(b);
  e.err = err;
  e.mode = mode;
  return e;
}

Verdict run_check(const std::vector<Entry> &entries, const std::string &dir,
                  std::set<int> unknown = {}) {
  Verdict v;
  check(entries, dir, Policy{std::move(unknown), 022}, &v);
  return v;
}

TEST(Journal, ModelMatchesTheKernel) {
  // Random operations on a plain directory (not a Finesse mount: finesse_* call the kernel).
  Dir tmp;
  mode_t old = umask(022);
  Recorder r(tmp.path(), 12345);
  for (int i = 0; i < 2000; i++) r.random_op();
  umask(old);
  Verdict v = run_check(r.entries(), tmp.path());
  EXPECT_TRUE(v.problems.empty()) << ::testing::PrintToString(v.problems);
  EXPECT_GT(v.succeeded, 500u) << v.summary();
  EXPECT_GT(v.expected_errors, 200u) << v.summary();
}

// A listing must show what the operations before it left, nothing lost, nothing extra.
TEST(Journal, CatchesAListingThatMissesOrInventsAName) {
  Dir tmp;
  ASSERT_EQ(mkdir(tmp.sub("n0").c_str(), 0755), 0);
  auto list = [](std::string seen) {
    Entry e = op(Op::kList, ".");
    e.seen = std::move(seen);
    return e;
  };
  const Entry made = op(Op::kMkdir, "n0", 0, "", 0755);
  EXPECT_TRUE(run_check({made, list("n0")}, tmp.path()).problems.empty());
  EXPECT_EQ(run_check({made, list("")}, tmp.path()).problems.size(), 1u) << "n0 not listed";
  EXPECT_EQ(run_check({made, list("n0,n1")}, tmp.path()).problems.size(), 1u) << "n1 invented";
  // After an unknown mkdir, a listing decides: shown, it was made.
  Entry unknown_mkdir = op(Op::kMkdir, "n0", 0, "", 0755);
  unknown_mkdir.finished = false;
  EXPECT_TRUE(run_check({unknown_mkdir, list("n0")}, tmp.path()).problems.empty());
  Verdict v = run_check({unknown_mkdir, list("")}, tmp.path());
  EXPECT_EQ(v.problems.size(), 1u) << "the final tree has n0, which the listing ruled out";
}

TEST(Journal, CatchesADoubledMkdir) {
  Dir tmp;
  ASSERT_EQ(mkdir(tmp.sub("n0").c_str(), 0755), 0);
  // Reported twice as done: the second must have failed with EEXIST.
  Verdict v =
      run_check({op(Op::kMkdir, "n0", 0, "", 0755), op(Op::kMkdir, "n0", 0, "", 0755)}, tmp.path());
  EXPECT_EQ(v.problems.size(), 1u) << ::testing::PrintToString(v.problems);
}

TEST(Journal, CatchesARenameDoneTwice) {
  Dir tmp;
  ASSERT_EQ(mkdir(tmp.sub("n1").c_str(), 0755), 0);
  // Done once behind the caller's back, then again: the caller saw ENOENT.
  Verdict v = run_check({op(Op::kMkdir, "n0", 0, "", 0755), op(Op::kRename, "n0", ENOENT, "n1")},
                        tmp.path());
  EXPECT_FALSE(v.problems.empty());
}

TEST(Journal, CatchesALostMutation) {
  Dir tmp;
  Verdict v = run_check({op(Op::kMkdir, "n0", 0, "", 0755)}, tmp.path());
  EXPECT_EQ(v.problems.size(), 1u) << ::testing::PrintToString(v.problems);
}

TEST(Journal, CatchesAnUnexpectedName) {
  Dir tmp;
  ASSERT_EQ(mkdir(tmp.sub("stray").c_str(), 0755), 0);
  EXPECT_EQ(run_check({}, tmp.path()).problems.size(), 1u);
}

TEST(Journal, CatchesAWrongStat) {
  Dir tmp;
  ASSERT_EQ(mkdir(tmp.sub("n0").c_str(), 0755), 0);
  Entry st = op(Op::kStat, "n0");
  st.seen = "d 700";
  EXPECT_EQ(run_check({op(Op::kMkdir, "n0", 0, "", 0755), st}, tmp.path()).problems.size(), 1u);
}

TEST(Journal, UnknownResultAllowsEitherOutcomeButOnlyAfterTheFault) {
  Dir with, without;
  ASSERT_EQ(mkdir(with.sub("n0").c_str(), 0755), 0);
  Entry lost = op(Op::kMkdir, "n0", ENOTCONN, "", 0755);
  lost.after_fault = true;
  EXPECT_TRUE(run_check({lost}, with.path(), {ENOTCONN}).problems.empty());
  EXPECT_TRUE(run_check({lost}, without.path(), {ENOTCONN}).problems.empty());
  // A later result decides: EEXIST proves the unknown mkdir happened.
  Entry again = op(Op::kMkdir, "n0", EEXIST, "", 0755);
  EXPECT_TRUE(run_check({lost, again}, with.path(), {ENOTCONN}).problems.empty());
  EXPECT_EQ(run_check({lost, again}, without.path(), {ENOTCONN}).problems.size(), 1u);
  // Before the fault the same error is a plain wrong answer.
  lost.after_fault = false;
  EXPECT_EQ(run_check({lost}, without.path(), {ENOTCONN}).problems.size(), 1u);
}

TEST(Journal, ManyUnknownResultsStayTractableAndLaterResultsStillCount) {
  // After a fault every call may report an unknown result: the possible states of a name
  // must not multiply without bound, and a later definite result still decides.
  std::vector<Entry> entries;
  for (int i = 0; i < 3000; i++) {
    Entry e = op(i % 3 ? Op::kSymlink : Op::kRename, "n" + std::to_string(i % 2), ENOTCONN,
                 i % 3 ? "/nonexistent/t" + std::to_string(i) : "n" + std::to_string(1 - i % 2));
    e.after_fault = true;
    entries.push_back(e);
  }
  entries.push_back(op(Op::kRmdir, "n0", ENOTDIR));  // n0 exists and is no directory
  entries.push_back(op(Op::kUnlink, "n0"));
  Dir clean, stray;
  EXPECT_TRUE(run_check(entries, clean.path(), {ENOTCONN}).problems.empty());
  ASSERT_EQ(mkdir(stray.sub("n0").c_str(), 0755), 0);
  EXPECT_EQ(run_check(entries, stray.path(), {ENOTCONN}).problems.size(), 1u)
      << "n0 was unlinked last: it cannot exist";
}

// The daemon died doing a rename it could not report (ENOTCONN); the kernel, which never
// learned of it, still answers a stat of the old name from its caches. With a dead daemon
// that answer says nothing about the tree; without one it contradicts the rename.
TEST(Journal, AfterTheDaemonDiedTheKernelsCachedAnswersDecideNothing) {
  Dir tmp;
  ASSERT_EQ(mkdir(tmp.sub("n1").c_str(), 0700), 0);  // n0 renamed to n1 before the death
  Entry cut = op(Op::kRename, "n0", ENOTCONN, "n1");
  cut.after_fault = true;
  Entry cached = op(Op::kStat, "n0");
  cached.seen = "d 700";
  cached.after_fault = true;
  std::vector<Entry> entries{op(Op::kMkdir, "n0", 0, "", 0700), cut, cached};
  Verdict alive;
  check(entries, tmp.path(), Policy{{ENOTCONN}, 022}, &alive);
  EXPECT_FALSE(alive.problems.empty()) << "a stat that saw n0 after the rename";
  Policy dead{{ENOTCONN}, 022};
  dead.fault_ends_the_daemon = true;
  Verdict v;
  check(entries, tmp.path(), dead, &v);
  EXPECT_TRUE(v.problems.empty()) << ::testing::PrintToString(v.problems);
  EXPECT_EQ(v.unknown, 2u) << v.summary();
}

TEST(Journal, LogSurvivesAnUnfinishedCall) {
  std::vector<Entry> e = parse_log("B 0 n0 - 493\nE 0 0 1 \nB 8 n0 n1 0\nE 2 1 0 \nB 1 n1 - 0\n");
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].op, Op::kMkdir);
  EXPECT_TRUE(e[0].finished && e[0].bypassed);
  EXPECT_EQ(e[1].op, Op::kRename);
  EXPECT_EQ(e[1].b, "n1");
  EXPECT_EQ(e[1].err, ENOENT);
  EXPECT_TRUE(e[1].after_fault);
  EXPECT_FALSE(e[2].finished);
}

}  // namespace
}  // namespace finesse::testing::journal
