// Extended attributes through the kernel FUSE path.
#include <sys/xattr.h>
#include <unistd.h>

#include <set>

#include "fs_fixture.h"
#include "fs_util.h"

namespace finesse::kernel_path {
namespace {

class XattrTest : public MountedFsTest {
 protected:
  void SetUp() override {
    MountedFsTest::SetUp();
    write_file(p("f"), "x");
  }

  // listxattr, split at the NULs.
  std::set<std::string> names(const std::string &path) {
    std::vector<char> buffer(65536);
    const ssize_t n = listxattr(path.c_str(), buffer.data(), buffer.size());
    std::set<std::string> result;
    if (n < 0) {
      ADD_FAILURE() << "listxattr " << path << ": " << errno_name(errno);
      return result;
    }
    for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(&buffer[i])) + 1) {
      result.insert(&buffer[i]);
    }
    return result;
  }

  std::string get(const std::string &path, const std::string &name) {
    std::vector<char> buffer(65536);
    const ssize_t n = getxattr(path.c_str(), name.c_str(), buffer.data(), buffer.size());
    if (n < 0) return "<" + errno_name(errno) + ">";
    return std::string(buffer.data(), static_cast<size_t>(n));
  }
};

TEST_P(XattrTest, SetGetListRemove) {
  ASSERT_OK(setxattr(p("f").c_str(), "user.one", "1", 1, 0));
  ASSERT_OK(setxattr(p("f").c_str(), "user.two", "second", 6, 0));
  EXPECT_EQ(get(p("f"), "user.one"), "1");
  EXPECT_EQ(get(p("f"), "user.two"), "second");
  EXPECT_EQ(names(p("f")), (std::set<std::string>{"user.one", "user.two"}));

  ASSERT_OK(setxattr(p("f").c_str(), "user.one", "replaced", 8, XATTR_REPLACE));
  EXPECT_EQ(get(p("f"), "user.one"), "replaced");
  ASSERT_OK(setxattr(p("f").c_str(), "user.three", "3", 1, XATTR_CREATE));

  ASSERT_OK(removexattr(p("f").c_str(), "user.one"));
  EXPECT_EQ(get(p("f"), "user.one"), "<ENODATA>");
  EXPECT_EQ(names(p("f")), (std::set<std::string>{"user.two", "user.three"}));
}

TEST_P(XattrTest, SizeQueriesAndErange) {
  const std::string value = "0123456789abcdef";
  ASSERT_OK(setxattr(p("f").c_str(), "user.sized", value.data(), value.size(), 0));
  EXPECT_EQ(getxattr(p("f").c_str(), "user.sized", nullptr, 0), static_cast<ssize_t>(value.size()));
  char small[4];
  EXPECT_ERRNO(ERANGE, getxattr(p("f").c_str(), "user.sized", small, sizeof small));
  char exact[16];
  EXPECT_EQ(getxattr(p("f").c_str(), "user.sized", exact, sizeof exact), 16);

  const ssize_t list_size = listxattr(p("f").c_str(), nullptr, 0);
  EXPECT_EQ(list_size, static_cast<ssize_t>(sizeof "user.sized"));
  EXPECT_ERRNO(ERANGE, listxattr(p("f").c_str(), small, sizeof small));
}

TEST_P(XattrTest, BinaryAndEmptyValuesAndLargeValues) {
  const std::string binary("a\0b\0\xff", 5);
  ASSERT_OK(setxattr(p("f").c_str(), "user.bin", binary.data(), binary.size(), 0));
  EXPECT_EQ(get(p("f"), "user.bin"), binary);
  ASSERT_OK(setxattr(p("f").c_str(), "user.empty", "", 0, 0));
  EXPECT_EQ(getxattr(p("f").c_str(), "user.empty", nullptr, 0), 0);
  EXPECT_EQ(names(p("f")).count("user.empty"), 1u);
  const std::string large(3000, 'L');
  ASSERT_OK(setxattr(p("f").c_str(), "user.large", large.data(), large.size(), 0));
  EXPECT_EQ(get(p("f"), "user.large"), large);
}

TEST_P(XattrTest, OnDirectoriesAndNotOnSymlinks) {
  ASSERT_OK(mkdir(p("d").c_str(), 0755));
  ASSERT_OK(setxattr(p("d").c_str(), "user.dir", "yes", 3, 0));
  EXPECT_EQ(get(p("d"), "user.dir"), "yes");
  // user.* attributes are for files and directories only (the VFS refuses the rest).
  ASSERT_OK(symlink("f", p("link").c_str()));
  EXPECT_ERRNO(EPERM, lsetxattr(p("link").c_str(), "user.x", "1", 1, 0));
  // Through the link, the target's attributes.
  ASSERT_OK(setxattr(p("f").c_str(), "user.target", "t", 1, 0));
  EXPECT_EQ(get(p("link"), "user.target"), "t");
}

TEST_P(XattrTest, AttributesFollowTheInodeOnRenameAndLink) {
  ASSERT_OK(setxattr(p("f").c_str(), "user.tag", "kept", 4, 0));
  ASSERT_OK(rename(p("f").c_str(), p("g").c_str()));
  EXPECT_EQ(get(p("g"), "user.tag"), "kept");
  ASSERT_OK(link(p("g").c_str(), p("h").c_str()));
  EXPECT_EQ(get(p("h"), "user.tag"), "kept");
}

using PassthroughXattrTest = XattrTest;

TEST_P(PassthroughXattrTest, AttributesAreStoredOnTheSource) {
  ASSERT_OK(setxattr(p("f").c_str(), "user.via-mount", "m", 1, 0));
  EXPECT_EQ(get(fs_->source() + "/f", "user.via-mount"), "m");
  ASSERT_OK(setxattr((fs_->source() + "/f").c_str(), "user.via-source", "s", 1, 0));
  EXPECT_EQ(get(p("f"), "user.via-source"), "s");
}

INSTANTIATE_TEST_SUITE_P(Fs, XattrTest, ::testing::ValuesIn(all_fs()), param_label);
INSTANTIATE_TEST_SUITE_P(Fs, PassthroughXattrTest,
                         ::testing::ValuesIn(only(FsKind::kPassthrough, all_fs())), param_label);

}  // namespace
}  // namespace finesse::kernel_path
