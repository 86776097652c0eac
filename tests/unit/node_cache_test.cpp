// The server's cache holds lookups and must return every one of them by forget.
#include "node_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace finesse::server {
namespace {

fuse_entry_param entry(fuse_ino_t ino, mode_t mode, double timeout = 10) {
  fuse_entry_param e{};
  e.ino = ino;
  e.attr.st_ino = ino;
  e.attr.st_mode = mode;
  e.entry_timeout = timeout;
  e.attr_timeout = timeout;
  return e;
}

// Sums the lookups returned per inode.
std::map<fuse_ino_t, uint64_t> total(const std::vector<Forget> &f) {
  std::map<fuse_ino_t, uint64_t> m;
  for (const auto &x : f) m[x.ino] += x.nlookup;
  return m;
}

TEST(NodeCache, EveryLookupIsForgottenExactlyOnce) {
  NodeCache c;
  std::vector<Forget> forgets;
  uint64_t g = c.generation();
  c.insert(FUSE_ROOT_ID, "d", entry(10, S_IFDIR | 0755), g, 1, &forgets);
  c.insert(10, "f", entry(11, S_IFREG | 0644), g, 1, &forgets);
  c.insert(10, "f", entry(11, S_IFREG | 0644), g, 2, &forgets);  // a second lookup reply
  c.insert(10, "h", entry(11, S_IFREG | 0644), g, 2, &forgets);  // a hard link
  EXPECT_TRUE(forgets.empty());
  EXPECT_EQ(c.lookups_held(), 4u);
  c.drop_entry(10, "f", &forgets);
  EXPECT_TRUE(forgets.empty()) << "still named by h";
  c.drop_entry(FUSE_ROOT_ID, "d", &forgets);  // the directory goes with its children
  auto t = total(forgets);
  EXPECT_EQ(t[10], 1u);
  EXPECT_EQ(t[11], 3u);
  EXPECT_EQ(c.lookups_held(), 0u);
}

// A request that got a node from the cache calls the file system with its number until it
// ends: another serving thread's drop (or a kernel-path change) of the node's last name must
// not return the last lookup meanwhile, or the file system may free the inode under it.
TEST(NodeCache, APinnedNodeIsForgottenOnlyWhenItsRequestEnds) {
  NodeCache c;
  std::vector<Forget> forgets;
  Pins pins, other;
  uint64_t g = c.generation();
  c.insert(FUSE_ROOT_ID, "d", entry(10, S_IFDIR | 0755), g, 1, &forgets, &pins);
  c.insert(10, "f", entry(11, S_IFREG | 0644), g, 1, &forgets);
  ASSERT_EQ(c.find(10, "f", 1, &other).kind, CacheHit::kPositive);
  EXPECT_EQ(pins.nodes, std::vector<fuse_ino_t>{10});
  EXPECT_EQ(other.nodes, std::vector<fuse_ino_t>{11});
  c.drop_entry(FUSE_ROOT_ID, "d", &forgets);  // d and its subtree lose their names
  EXPECT_TRUE(forgets.empty()) << "forgot " << forgets[0].ino << " while a request uses it";
  EXPECT_EQ(c.find(FUSE_ROOT_ID, "d", 2).kind, CacheHit::kMiss);  // nameless all the same
  c.unpin(&pins, &forgets);
  EXPECT_TRUE(pins.nodes.empty());
  EXPECT_EQ(total(forgets), (std::map<fuse_ino_t, uint64_t>{{10, 1}}));
  forgets.clear();
  c.flush(&forgets);  // a flush, too, leaves a pinned node to its request
  EXPECT_TRUE(forgets.empty());
  c.unpin(&other, &forgets);
  EXPECT_EQ(total(forgets), (std::map<fuse_ino_t, uint64_t>{{11, 1}}));
  EXPECT_EQ(c.lookups_held(), 0u);
}

// A pinned node looked up again before its request ends is cached again, not forgotten.
TEST(NodeCache, APinnedNodeNamedAgainStays) {
  NodeCache c;
  std::vector<Forget> forgets;
  Pins pins;
  uint64_t g = c.generation();
  c.insert(FUSE_ROOT_ID, "f", entry(11, S_IFREG | 0644), g, 1, &forgets, &pins);
  c.drop_entry(FUSE_ROOT_ID, "f", &forgets);
  c.insert(FUSE_ROOT_ID, "g", entry(11, S_IFREG | 0644), c.generation(), 1, &forgets);
  c.unpin(&pins, &forgets);
  EXPECT_TRUE(forgets.empty());
  EXPECT_EQ(c.lookups_held(), 2u);
  c.drop_entry(FUSE_ROOT_ID, "g", &forgets);
  EXPECT_EQ(total(forgets), (std::map<fuse_ino_t, uint64_t>{{11, 2}}));
}

// A request that uses the node of a kernel entry calls the file system with the kernel's
// node number: the kernel's forget of it must wait for the request's end.
TEST(NodeCache, TheKernelsForgetOfANodeInUseWaitsForTheRequest) {
  NodeCache c;
  std::vector<Forget> forgets;
  c.note_kernel_entry(FUSE_ROOT_ID, "k", entry(30, S_IFREG | 0644), c.generation(), 1);
  Pins pins;
  fuse_ino_t ino = 0;
  struct stat st {};
  ASSERT_TRUE(c.find_kernel_entry(FUSE_ROOT_ID, "k", 2, &ino, &st, &pins));
  EXPECT_EQ(pins.kernel, std::vector<fuse_ino_t>{30});
  EXPECT_EQ(c.kernel_forgot(30, 2), 0u) << "the file system was told to forget a node in use";
  EXPECT_FALSE(c.find_kernel_entry(FUSE_ROOT_ID, "k", 2, &ino, &st)) << "the entry stays";
  EXPECT_EQ(c.kernel_forgot(31, 1), 1u);  // another node's forget goes through
  c.unpin(&pins, &forgets);
  EXPECT_EQ(total(forgets), (std::map<fuse_ino_t, uint64_t>{{30, 2}}));
  EXPECT_EQ(c.kernel_forgot(30, 1), 1u);  // unpinned: through again
}

// Two names of one node (a hard link) the kernel holds: removing one changes the node's link
// count and ctime, so what the other name's entry says of them is stale.
TEST(NodeCache, RemovingOneNameOfANodeDropsTheKernelEntriesOfItsOtherNames) {
  NodeCache c;
  std::vector<Forget> forgets;
  c.note_kernel_entry(FUSE_ROOT_ID, "a", entry(40, S_IFLNK | 0777), c.generation(), 1);
  c.note_kernel_entry(FUSE_ROOT_ID, "b", entry(40, S_IFLNK | 0777), c.generation(), 1);
  c.note_kernel_entry(FUSE_ROOT_ID, "other", entry(41, S_IFREG | 0644), c.generation(), 1);
  fuse_ino_t ino = 0;
  struct stat st {};
  ASSERT_TRUE(c.find_kernel_entry(FUSE_ROOT_ID, "a", 2, &ino, &st));
  c.name_changed(FUSE_ROOT_ID, "b", &forgets);  // the kernel path's unlink of b
  EXPECT_FALSE(c.find_kernel_entry(FUSE_ROOT_ID, "a", 2, &ino, &st)) << "a's link count";
  EXPECT_TRUE(c.find_kernel_entry(FUSE_ROOT_ID, "other", 2, &ino, &st));
  c.note_kernel_entry(FUSE_ROOT_ID, "a", entry(40, S_IFLNK | 0777), c.generation(), 1);
  c.note_kernel_entry(FUSE_ROOT_ID, "b", entry(40, S_IFLNK | 0777), c.generation(), 1);
  c.drop_entry(FUSE_ROOT_ID, "a", &forgets);  // the bypass's unlink of a
  EXPECT_FALSE(c.find_kernel_entry(FUSE_ROOT_ID, "b", 2, &ino, &st)) << "b's link count";
}

TEST(NodeCache, StaleResultsAreNotCachedButStillForgotten) {
  NodeCache c;
  std::vector<Forget> forgets;
  uint64_t g = c.generation();
  c.invalidate_attr(5);  // any invalidation moves the generation
  c.insert(FUSE_ROOT_ID, "x", entry(20, S_IFREG), g, 1, &forgets);
  ASSERT_EQ(forgets.size(), 1u);
  EXPECT_EQ(forgets[0].ino, 20u);
  EXPECT_EQ(c.find(FUSE_ROOT_ID, "x", 1).kind, CacheHit::kMiss);
}

TEST(NodeCache, EntriesExpireLikeTheKernels) {
  NodeCache c;
  std::vector<Forget> forgets;
  c.insert(FUSE_ROOT_ID, "x", entry(20, S_IFREG, 1.0), c.generation(), 0, &forgets);
  EXPECT_EQ(c.find(FUSE_ROOT_ID, "x", 500000000).kind, CacheHit::kPositive);
  EXPECT_TRUE(c.find(FUSE_ROOT_ID, "x", 500000000).attr_fresh);
  EXPECT_EQ(c.find(FUSE_ROOT_ID, "x", 2000000000).kind, CacheHit::kMiss);
  c.insert(FUSE_ROOT_ID, "y", entry(21, S_IFREG, 0), c.generation(), 0, &forgets);
  EXPECT_EQ(c.find(FUSE_ROOT_ID, "y", 1).kind, CacheHit::kMiss) << "timeout 0: never cached";
  c.flush(&forgets);
  auto t = total(forgets);
  EXPECT_EQ(t[20], 1u);
  EXPECT_EQ(t[21], 1u);
}

TEST(NodeCache, NegativeEntriesNeedATimeout) {
  NodeCache c;
  std::vector<Forget> forgets;
  fuse_entry_param neg{};
  neg.entry_timeout = 5;
  c.insert(FUSE_ROOT_ID, "n", neg, c.generation(), 0, &forgets);
  EXPECT_EQ(c.find(FUSE_ROOT_ID, "n", 1).kind, CacheHit::kNegative);
  c.drop_entry(FUSE_ROOT_ID, "n", &forgets);
  EXPECT_EQ(c.find(FUSE_ROOT_ID, "n", 1).kind, CacheHit::kMiss);
  EXPECT_TRUE(forgets.empty());
}

// A bounded cache drops its least recently used dentries and returns their lookups at once:
// a walk over more names than the bound keeps at most the bound, and keeps caching.
TEST(NodeCache, LeastRecentlyUsedEntriesAreForgotten) {
  NodeCache c(8);
  std::vector<Forget> forgets;
  c.insert(FUSE_ROOT_ID, "d", entry(10, S_IFDIR | 0755), c.generation(), 0, &forgets);
  for (fuse_ino_t i = 0; i < 100; i++) {
    EXPECT_EQ(c.find(FUSE_ROOT_ID, "d", 1).kind, CacheHit::kPositive);  // the walk uses d
    c.insert(10, "f" + std::to_string(i), entry(100 + i, S_IFREG), c.generation(), 1, &forgets);
    EXPECT_EQ(c.find(10, "f" + std::to_string(i), 1).kind, CacheHit::kPositive) << i;
    EXPECT_LE(c.size(), 8u);
  }
  EXPECT_EQ(c.find(FUSE_ROOT_ID, "d", 1).kind, CacheHit::kPositive) << "used at every step";
  EXPECT_EQ(c.find(10, "f99", 1).kind, CacheHit::kPositive);
  EXPECT_EQ(c.find(10, "f0", 1).kind, CacheHit::kMiss);
  // Every lookup taken is either still held or was returned, exactly once.
  auto t = total(forgets);
  EXPECT_EQ(t.size(), 93u);
  for (const auto &[ino, n] : t) EXPECT_EQ(n, 1u) << ino;
  EXPECT_EQ(c.lookups_held(), 8u);
  // A directory evicted goes with its children (their keys use its number).
  c.insert(FUSE_ROOT_ID, "e", entry(11, S_IFDIR | 0755), c.generation(), 2, &forgets);
  for (int i = 0; i < 7; i++)
    c.insert(FUSE_ROOT_ID, "g" + std::to_string(i), entry(200 + i, S_IFREG), c.generation(), 2,
             &forgets);
  EXPECT_EQ(c.find(FUSE_ROOT_ID, "d", 3).kind, CacheHit::kMiss);
  EXPECT_EQ(c.find(10, "f99", 3).kind, CacheHit::kMiss);
  t = total(forgets);
  EXPECT_EQ(t[10], 1u);
  EXPECT_EQ(t[199], 1u);
  c.flush(&forgets);
  t = total(forgets);
  EXPECT_EQ(t.size(), 101u + 1u + 7u);
  for (const auto &[ino, n] : t) EXPECT_EQ(n, 1u) << ino;
}

// What the kernel was given for a name: gone with the name, with its node's attributes and
// with the kernel's forget of either inode; kept when only the directory's own attributes
// change (a sibling created or removed), for thousands of names in one directory.
TEST(NodeCache, KernelEntriesGoWithTheirNameAndNode) {
  NodeCache c(10000);  // (the default bound follows RLIMIT_NOFILE, lower on some machines)
  std::vector<Forget> forgets;
  const fuse_ino_t dir = 2;
  auto name = [](int i) { return "f" + std::to_string(i); };
  for (int i = 0; i < 3000; i++)
    c.note_kernel_entry(dir, name(i), entry(100 + i, S_IFREG | 0644), c.generation(), 1);
  fuse_ino_t ino = 0;
  struct stat st {};
  ASSERT_TRUE(c.find_kernel_entry(dir, name(7), 2, &ino, &st));
  EXPECT_EQ(ino, 107u);
  c.invalidate_attr(dir);  // the directory's attributes only
  EXPECT_TRUE(c.find_kernel_entry(dir, name(7), 2, &ino, &st));
  c.name_changed(dir, name(8), &forgets);  // a sibling
  EXPECT_TRUE(c.find_kernel_entry(dir, name(7), 2, &ino, &st));
  EXPECT_FALSE(c.find_kernel_entry(dir, name(8), 2, &ino, &st));
  c.invalidate_attr(107);  // the node's own attributes: stale, the name still the kernel's
  EXPECT_FALSE(c.find_kernel_entry(dir, name(7), 2, &ino, &st));
  bool fresh = true;
  ino = 0;
  ASSERT_TRUE(c.find_kernel_entry(dir, name(7), 2, &ino, &st, nullptr, &fresh));
  EXPECT_EQ(ino, 107u);
  EXPECT_FALSE(fresh);
  // Read again by the node: fresh, unless the generation moved meanwhile.
  struct stat now = entry(107, S_IFREG | 0600).attr;
  uint64_t before = c.generation();
  c.invalidate_attr(5);
  c.set_attr(107, now, 10, before, 3);
  ASSERT_TRUE(c.find_kernel_entry(dir, name(7), 4, &ino, &st, nullptr, &fresh));
  EXPECT_FALSE(fresh);
  c.set_attr(107, now, 10, c.generation(), 3);
  ASSERT_TRUE(c.find_kernel_entry(dir, name(7), 4, &ino, &st));
  EXPECT_EQ(st.st_mode, S_IFREG | 0600u);
  c.name_changed(dir, name(7), &forgets);  // the name goes, stale or not
  EXPECT_FALSE(c.find_kernel_entry(dir, name(7), 4, &ino, &st, nullptr, &fresh));
  c.kernel_forgot(109, 1);  // the kernel forgot the node
  EXPECT_FALSE(c.find_kernel_entry(dir, name(9), 2, &ino, &st));
  EXPECT_TRUE(c.find_kernel_entry(dir, name(10), 2, &ino, &st));
  c.kernel_forgot(dir, 1);  // ... or the directory
  EXPECT_FALSE(c.find_kernel_entry(dir, name(10), 2, &ino, &st));
  // A stale generation records nothing.
  uint64_t gen = c.generation();
  c.invalidate_attr(5);
  c.note_kernel_entry(dir, "late", entry(50, S_IFREG | 0644), gen, 1);
  EXPECT_FALSE(c.find_kernel_entry(dir, "late", 2, &ino, &st));
}

// A listing with attributes is remembered for its directory until its entries' timeout, so
// that listings before then ask the file system for no attributes; not past a forget or an
// invalidation of every node.
TEST(NodeCache, RecentListingsAreRememberedWithTheirDirectory) {
  NodeCache c;
  std::vector<Forget> f;
  c.insert(FUSE_ROOT_ID, "d", entry(2, S_IFDIR | 0755), c.generation(), 1, &f);
  EXPECT_FALSE(c.listed_recently(2, 1));
  c.note_listed(2, 100);
  EXPECT_TRUE(c.listed_recently(2, 99));
  EXPECT_FALSE(c.listed_recently(2, 100));
  c.note_listed(2, 100);
  c.invalidate_all_attrs();
  EXPECT_FALSE(c.listed_recently(2, 1));
  c.note_listed(2, 100);
  c.name_changed(FUSE_ROOT_ID, "d", &f);  // the directory's node is forgotten
  EXPECT_FALSE(c.listed_recently(2, 1));
  c.note_listed(3, 100);  // not a node of the cache: nothing kept
  EXPECT_FALSE(c.listed_recently(3, 1));
}

}  // namespace
}  // namespace finesse::server
