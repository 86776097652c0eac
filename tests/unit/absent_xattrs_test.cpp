// What a listing said about the xattrs of its entries (userlib/absent_xattrs.h): answered for
// the entries it had, for the bits it had, while the mark and the time hold, and for nothing
// else.
#include "absent_xattrs.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace finesse::client {
namespace {

using wire::kXattrAclAccess;
using wire::kXattrSelinux;

// A reply's entries: name, type, absent bits.
struct E {
  std::string name;
  uint8_t type;
  uint8_t absent;
};
std::vector<char> entries(const std::vector<E> &es) {
  std::vector<char> out;
  for (const E &e : es) {
    size_t at = out.size();
    out.resize(at + wire::dir_entry_size(e.name.size()));
    auto *w = reinterpret_cast<wire::DirEntry *>(out.data() + at);
    w->ino = 1;
    w->off = at + 1;
    w->namelen = static_cast<uint16_t>(e.name.size());
    w->type = e.type;
    w->absent = e.absent;
    memcpy(w->name, e.name.c_str(), e.name.size() + 1);
  }
  return out;
}

class AbsentXattrsTest : public ::testing::Test {
 protected:
  bool absent(const std::string &rel, uint32_t bit, bool follow = false,
              AbsentXattrs::Mark m = {1, 7}, int64_t now = 100) {
    return x_.absent(rel.data(), rel.size(), bit, follow, {}, m, now);
  }
  AbsentXattrs x_;
};

TEST_F(AbsentXattrsTest, AnswersTheListedEntriesWhileMarkAndTimeHold) {
  EXPECT_FALSE(absent("a/b/f", kXattrSelinux));  // nothing listed yet
  auto first = entries({{"f", DT_REG, kXattrSelinux | kXattrAclAccess},
                        {"g", DT_REG, kXattrSelinux},
                        {"h", DT_REG, 0},
                        {"l", DT_LNK, kXattrSelinux},
                        {"s", DT_DIR, kXattrAclAccess}});
  x_.begin("a/b/", 4, {30, 0}, {1, 7}, 1000, 55, first.data(), first.size());
  EXPECT_TRUE(absent("a/b/f", kXattrSelinux));
  EXPECT_TRUE(absent("a/b/f", kXattrAclAccess, true));
  EXPECT_TRUE(absent("a/b/g", kXattrSelinux));
  EXPECT_FALSE(absent("a/b/g", kXattrAclAccess));      // not said
  EXPECT_FALSE(absent("a/b/h", kXattrSelinux));        // has one
  EXPECT_TRUE(absent("a/b/l", kXattrSelinux));         // the link's own
  EXPECT_FALSE(absent("a/b/l", kXattrSelinux, true));  // its target's: not listed here
  EXPECT_TRUE(absent("a/b/s", kXattrAclAccess, true));
  EXPECT_FALSE(absent("a/b/x", kXattrSelinux));  // not listed
  EXPECT_FALSE(absent("a/bf", kXattrSelinux));   // not that directory
  EXPECT_FALSE(absent("a/b/c/f", kXattrSelinux));
  EXPECT_FALSE(absent("f", kXattrSelinux));
  EXPECT_FALSE(absent("a/b/", kXattrSelinux));  // no name
  // Something changed, another connection, time up.
  EXPECT_FALSE(absent("a/b/f", kXattrSelinux, false, {1, 8}));
  EXPECT_FALSE(absent("a/b/f", kXattrSelinux, false, {2, 7}));
  EXPECT_FALSE(absent("a/b/f", kXattrSelinux, false, {1, 7}, 1000));
  // Through a base of the shim's caches: only the listed inode (not resolved from a cwd).
  EXPECT_TRUE(x_.absent("a/b/f", 5, kXattrSelinux, false, {30, 0}, {1, 7}, 100));
  EXPECT_FALSE(x_.absent("a/b/f", 5, kXattrSelinux, false, {31, 0}, {1, 7}, 100));
  EXPECT_FALSE(x_.absent("a/b/f", 5, kXattrSelinux, false, {0, 9}, {1, 7}, 100));
  // The rest of the same listing; another listing's is not taken.
  auto more = entries({{"m", DT_REG, kXattrSelinux}});
  x_.more(56, more.data(), more.size());
  EXPECT_FALSE(absent("a/b/m", kXattrSelinux));
  x_.more(55, more.data(), more.size());
  EXPECT_TRUE(absent("a/b/m", kXattrSelinux));
  // A new listing replaces it; the root's entries have no directory part.
  x_.begin("", 0, {1, 0}, {1, 9}, 1000, 0, first.data(), first.size());
  EXPECT_FALSE(absent("a/b/f", kXattrSelinux, false, {1, 9}));
  EXPECT_TRUE(absent("f", kXattrSelinux, false, {1, 9}));
}

TEST(AbsentXattrsAnyNamed, DotsAreNotNames) {
  auto dots = entries({{".", DT_DIR, 0}, {"..", DT_DIR, 0}});
  EXPECT_FALSE(AbsentXattrs::any_named(dots.data(), dots.size()));
  EXPECT_FALSE(AbsentXattrs::any_named(dots.data(), 0));
  auto named = entries({{".", DT_DIR, 0}, {"..a", DT_REG, 0}});
  EXPECT_TRUE(AbsentXattrs::any_named(named.data(), named.size()));
}

TEST_F(AbsentXattrsTest, AHugeListingKeepsWhatFitsAndAnswersNothingWrong) {
  std::vector<E> es;
  for (int i = 0; i < 10000; i++) es.push_back({"n" + std::to_string(i), DT_REG, kXattrSelinux});
  auto bytes = entries(es);
  x_.begin("d", 1, {40, 0}, {1, 7}, 1000, 0, bytes.data(), bytes.size());
  int known = 0;
  for (int i = 0; i < 10000; i++) known += absent("d/n" + std::to_string(i), kXattrSelinux);
  EXPECT_GE(known, 4096);
  EXPECT_LT(known, 10000);
  EXPECT_FALSE(absent("d/n10000", kXattrSelinux));
}

// Entries with attributes (wire::kEntryAttr): the attributes of the listed entries, while
// mark and time hold; a symlink's own only for a call that does not follow it.
TEST_F(AbsentXattrsTest, AnswersTheListedAttributes) {
  std::vector<char> out;
  auto add = [&](const std::string &name, uint8_t type, uint64_t ino, bool with_attr) {
    size_t at = out.size();
    out.resize(at + wire::dir_entry_size(name.size(), with_attr));
    auto *w = reinterpret_cast<wire::DirEntry *>(out.data() + at);
    w->ino = ino;
    w->namelen = static_cast<uint16_t>(name.size());
    w->type = type;
    w->flags = with_attr ? wire::kEntryAttr : 0;
    memcpy(w->name, name.c_str(), name.size() + 1);
    if (with_attr) {
      wire::Attr a{};
      a.ino = ino;
      a.size = ino * 10;
      memcpy(out.data() + at + wire::dir_entry_size(name.size()), &a, sizeof(a));
    }
  };
  add("f", DT_REG, 5, true);
  add("n", DT_REG, 6, false);
  add("l", DT_LNK, 7, true);
  x_.begin("d", 1, {40, 9}, {1, 7}, 1000, 0, out.data(), out.size());  // resolved from cwd 9
  wire::Attr a{};
  auto attr = [&](const std::string &rel, bool follow = false, AbsentXattrs::Mark m = {1, 7},
                  int64_t now = 100, AbsentXattrs::Through through = {}) {
    return x_.attr(rel.data(), rel.size(), follow, through, m, now, &a);
  };
  ASSERT_TRUE(attr("d/f"));
  EXPECT_EQ(a.ino, 5u);
  EXPECT_EQ(a.size, 50u);
  ASSERT_TRUE(attr("d/f", true));
  EXPECT_FALSE(attr("d/n")) << "listed without attributes";
  ASSERT_TRUE(attr("d/l"));
  EXPECT_EQ(a.ino, 7u);
  EXPECT_FALSE(attr("d/l", true)) << "following the link";
  EXPECT_FALSE(attr("d/f", false, {1, 8})) << "a change since";
  EXPECT_FALSE(attr("d/f", false, {2, 7})) << "another connection";
  EXPECT_FALSE(attr("d/f", false, {1, 7}, 1000)) << "expired";
  EXPECT_FALSE(attr("e/f")) << "another directory";
  // Through a base directory the caller names by fd: only a listing of that very inode.
  EXPECT_TRUE(attr("d/f", false, {1, 7}, 100, {40, 0})) << "the listed directory's inode";
  EXPECT_FALSE(attr("d/f", false, {1, 7}, 100, {41, 0})) << "another directory at that path";
  // Through the cwd: only a listing resolved from that very cwd.
  EXPECT_TRUE(attr("d/f", false, {1, 7}, 100, {0, 9})) << "listed relative to this cwd";
  EXPECT_FALSE(attr("d/f", false, {1, 7}, 100, {0, 8})) << "listed relative to another cwd";
  EXPECT_FALSE(absent("d/f", kXattrSelinux)) << "no absent bits";
}

}  // namespace
}  // namespace finesse::client
