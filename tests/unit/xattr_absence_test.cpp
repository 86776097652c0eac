// The server's memo of absent xattrs holds an answer only while nothing could have changed it.
#include "xattr_absence.h"

#include <gtest/gtest.h>

#include "clock.h"
#include "wire.h"

namespace finesse::server {
namespace {

struct stat attr_of(ino_t ino, long ctime_ns) {
  struct stat st {};
  st.st_ino = ino;
  st.st_mode = S_IFREG | 0644;
  st.st_ctim = {1000, ctime_ns};
  return st;
}

constexpr uint32_t kBoth = wire::kXattrSelinux | wire::kXattrAclAccess;
constexpr int64_t kSecond = 1000000000;

TEST(AbsentXattrMemo, AnswersWhatItWasToldForTheSameAttributes) {
  AbsentXattrMemo m;
  const struct stat a = attr_of(7, 1);
  uint8_t absent = 0;
  int64_t valid = 0;
  EXPECT_FALSE(m.find(42, a, kBoth, &absent, &valid)) << "empty";
  m.record(42, a, kBoth, wire::kXattrSelinux, m.epoch(), now_ns() + kSecond);
  ASSERT_TRUE(m.find(42, a, kBoth, &absent, &valid));
  EXPECT_EQ(absent, wire::kXattrSelinux);
  EXPECT_GT(valid, 0);
  EXPECT_LE(valid, kSecond);
  ASSERT_TRUE(m.find(42, a, wire::kXattrAclAccess, &absent, &valid));
  EXPECT_EQ(absent, 0) << "only the bits asked";
  EXPECT_FALSE(m.find(42, a, wire::kXattrAclDefault, &absent, &valid)) << "never asked";
  EXPECT_FALSE(m.find(43, a, kBoth, &absent, &valid)) << "another node";
}

TEST(AbsentXattrMemo, ForgetsOnAnyChangeOfTheAttributesOrOfTheFileSystem) {
  AbsentXattrMemo m;
  const struct stat a = attr_of(7, 1);
  uint8_t absent = 0;
  int64_t valid = 0;
  m.record(42, a, kBoth, kBoth, m.epoch(), now_ns() + kSecond);
  EXPECT_FALSE(m.find(42, attr_of(7, 2), kBoth, &absent, &valid)) << "ctime moved";
  EXPECT_FALSE(m.find(42, attr_of(8, 1), kBoth, &absent, &valid)) << "another inode";
  struct stat chmodded = a;
  chmodded.st_mode = S_IFREG | 0600;
  EXPECT_FALSE(m.find(42, chmodded, kBoth, &absent, &valid)) << "mode moved";
  ASSERT_TRUE(m.find(42, a, kBoth, &absent, &valid));
  m.changed();
  EXPECT_FALSE(m.find(42, a, kBoth, &absent, &valid)) << "a change seen since";
  // Asked before a change, recorded after it: not held either.
  const uint64_t asked_at = m.epoch();
  m.changed();
  m.record(42, a, kBoth, kBoth, asked_at, now_ns() + kSecond);
  EXPECT_FALSE(m.find(42, a, kBoth, &absent, &valid));
  // Expired.
  m.record(42, a, kBoth, kBoth, m.epoch(), now_ns() - 1);
  EXPECT_FALSE(m.find(42, a, kBoth, &absent, &valid));
}

}  // namespace
}  // namespace finesse::server
