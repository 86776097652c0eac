// `finesse du` against coreutils' du on the same tree of an attached mount: the same lines,
// messages and exit status, as root and as nobody, with the listings and stats through the
// bypass (batches).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <tuple>
#include <vector>

#include "attached_fs.h"
#include "wire.h"

namespace finesse::testing {
namespace {

void write_file(const std::string &p, size_t bytes) {
  int fd = open(p.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << p;
  std::string data(bytes, 'x');
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fd);
}

// a/{f1, b/{f2, h1 (a link of f1), s1 (a symlink), c/}, e/ (root's, 0700), many/f0..f149}, d/g
void build_tree(const std::string &root) {
  for (const char *d : {"a", "a/b", "a/b/c", "a/e", "a/many", "d"})
    ASSERT_EQ(mkdir((root + "/" + d).c_str(), 0755), 0) << d;
  write_file(root + "/a/f1", 5);
  write_file(root + "/a/b/f2", 10000);
  write_file(root + "/a/e/secret", 300);
  write_file(root + "/d/g", 70000);
  ASSERT_EQ(link((root + "/a/f1").c_str(), (root + "/a/b/h1").c_str()), 0);
  ASSERT_EQ(symlink("../f1", (root + "/a/b/s1").c_str()), 0);
  for (int i = 0; i < 150; i++) write_file(root + "/a/many/f" + std::to_string(i), 100 * i);
  ASSERT_EQ(chmod((root + "/a/e").c_str(), 0700), 0);
}

using Param = std::tuple<FsKind, bool /*as root*/>;
class FinesseDu : public ::testing::TestWithParam<Param> {};

TEST_P(FinesseDu, SameOutputAsDu) {
  auto [kind, root] = GetParam();
  AttachedFs fs(mount_options(kind, /*default_permissions=*/true, /*allow_other=*/true));
  build_tree(fs.mnt());
  const std::vector<std::vector<std::string>> cases = {
      {"a"},
      {"-s", "a"},
      {"-b", "a"},
      {"--apparent-size", "a"},
      {"a", "d"},
      {"a", "a"},
      {"a/", "d/"},
      {"a/f1", "a/b/h1"},
      {"missing", "a"},
      {"-s", "a/b", "a"},
      {"a/b/s1"},
      {"a/e"},
      {"-s"},
      {},
  };
  // As nobody through setpriv: both programs run as the same user on the same tree.
  const std::vector<std::string> as =
      root
          ? std::vector<std::string>{}
          : std::vector<std::string>{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  const auto batches = [&] { return fs.stats().served[static_cast<size_t>(wire::Op::kBatch)]; };
  const uint64_t before = batches();
  for (const auto &args : cases) {
    std::vector<std::string> du = as, ours = as;
    du.push_back("du");
    ours.insert(ours.end(), {bin_dir() + "/finesse", "du"});
    du.insert(du.end(), args.begin(), args.end());
    ours.insert(ours.end(), args.begin(), args.end());
    std::string what;
    for (const auto &a : args) what += a + " ";
    CommandResult want = run_command(du, {}, fs.mnt());
    CommandResult got = run_command(ours, {}, fs.mnt());
    EXPECT_EQ(got.out, want.out) << what;
    EXPECT_EQ(got.err, want.err) << what;
    EXPECT_EQ(got.status, want.status) << what;
  }
  EXPECT_GT(batches(), before) << "the entries' stats did not go through the bypass";
}

INSTANTIATE_TEST_SUITE_P(Kinds, FinesseDu,
                         ::testing::Combine(::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                                            ::testing::Bool()),
                         [](const ::testing::TestParamInfo<Param> &i) {
                           return fs_name(std::get<0>(i.param)) +
                                  (std::get<1>(i.param) ? "_root" : "_nobody");
                         });

TEST(FinesseCli, BadUsageIsAnErrorWithStatus1) {
  for (const std::vector<std::string> &argv :
       {std::vector<std::string>{bin_dir() + "/finesse"},
        std::vector<std::string>{bin_dir() + "/finesse", "du", "--no-such-option"},
        std::vector<std::string>{bin_dir() + "/finesse", "no-such-tool"}}) {
    CommandResult r = run_command(argv);
    EXPECT_EQ(r.status, 1) << argv.back();
    EXPECT_FALSE(r.err.empty()) << argv.back();
  }
}

}  // namespace
}  // namespace finesse::testing
