// Unmodified tools (coreutils, find, du, tar, git, python3 walking a tree) give the same output,
// exit status and final tree with and without the shim, on both sample file systems, while
// the server's counters prove the bypass served the shim run.
#include <gtest/gtest.h>

#include "attached_fs.h"
#include "op_pair.h"
#include "shim_util.h"

namespace finesse::testing {
namespace {

// Every command's output and status; times and inode numbers are left out.
const char *kScript = R"(
exec 2>&1
mkdir -p t/d1/d2/d3; echo "mkdir-p $?"
touch t/f1 t/d1/f2 t/d1/d2/f3; echo "touch $?"
echo hello > t/d1/data
chmod 0600 t/f1; chmod 0750 t/d1/d2; echo "chmod $?"
ln -s f1 t/link; ln -s ../../outside t/d1/dangling; echo "ln $?"
mv t/d1/f2 t/d1/f2b; echo "mv $?"
ls -ln --time-style=+T t t/d1; echo "ls $?"
stat -c '%n %s %a %F %u %g %h' t t/f1 t/link t/d1/data; echo "stat $?"
stat -L -c '%n %F %s' t/link; echo "stat-L $?"
find t -printf '%p %y %m %s %l\n' | sort; echo "find $?"
ls -laRn --time-style=+T t; echo "ls-laR $?"
find t -ls | awk '{print $3, $4, $5, $6, $7, $11, $12, $13}' | sort; echo "find-ls $?"
git -c init.defaultBranch=main init -q g && cp -a t/d1 g/ && git -C g add -A &&
  GIT_AUTHOR_DATE=2000-01-01T00:00:00Z GIT_COMMITTER_DATE=2000-01-01T00:00:00Z \
  git -C g -c user.email=t@t -c user.name=t commit -qm m && echo more >> g/d1/data &&
  touch g/new && rm g/d1/f2b && git -C g status --porcelain; echo "git $?"
du -a --apparent-size t | sort -k2; echo "du $?"
cp -a t t2; echo "cp $?"
tar cf t.tar t && mkdir x && tar xf t.tar -C x; echo "tar $?"
tar tvf t.tar --numeric-owner | awk '{print $1, $2, $3, $6, $7, $8}' | sort
/usr/bin/python3 -c '
import os
for r, ds, fs in sorted(os.walk("t")):
    for n in sorted(ds + fs):
        p = os.path.join(r, n); s = os.lstat(p)
        print(p, oct(s.st_mode), 0 if os.path.isdir(p) else s.st_size, os.path.exists(p))
'; echo "python $?"
rm -rf t2; echo "rm $?"
ls -l missing; echo "ls-missing $?"
stat missing; echo "stat-missing $?"
rm -r x/t/d1/d2 && rmdir x/t/d1 2>&1 | sed 's/x\/t/X/'; echo "rmdir $?"
)";

class ShimTools : public ::testing::TestWithParam<FsKind> {
 protected:
  // Runs kScript with `shim_env` and without the shim on twin directories; returns how many
  // calls the server served for the shim run.
  uint64_t same_with_and_without(const std::map<std::string, std::string> &shim_env) {
    MountOptions o;
    o.fs = GetParam();
    AttachedFs fs(o);
    std::string a = fs.path("with"), b = fs.path("without");
    EXPECT_EQ(mkdir(a.c_str(), 0755), 0);
    EXPECT_EQ(mkdir(b.c_str(), 0755), 0);
    uint64_t s0 = fs.served_total();
    CommandResult ra = run_command({"/bin/bash", "-c", kScript}, shim_env, a);
    uint64_t s1 = fs.served_total();
    CommandResult rb = run_command({"/bin/bash", "-c", kScript}, {}, b);
    uint64_t s2 = fs.served_total();
    EXPECT_EQ(ra.status, rb.status);
    EXPECT_EQ(diff_lines(ra.out, rb.out), 0) << ra.out;
    EXPECT_NE(rb.out.find("python 0"), std::string::npos) << rb.out;
    EXPECT_NE(rb.out.find("stat-missing 1"), std::string::npos) << rb.out;
    EXPECT_EQ(describe_tree(a), describe_tree(b));
    EXPECT_EQ(s2, s1);
    return s1 - s0;
  }
};

TEST_P(ShimTools, SameOutputStatusAndTree) {
  EXPECT_GT(same_with_and_without(with_shim()), 100u)
      << "the tools' calls must have gone over the bypass";
}

// With the shim's default routing (the suite otherwise sets FINESSE_WAKE_FOR_READS=1): reads
// that find the server asleep take the kernel, mixed with bypassed calls; same answers.
TEST_P(ShimTools, SameOutputWithTheDefaultRouting) {
  auto env = with_shim();
  env["FINESSE_WAKE_FOR_READS"] = "0";
  EXPECT_GT(same_with_and_without(env), 10u) << "nothing went over the bypass";
}

INSTANTIATE_TEST_SUITE_P(All, ShimTools, ::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                         [](const auto &i) { return fs_name(i.param); });

}  // namespace
}  // namespace finesse::testing
