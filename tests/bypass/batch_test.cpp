// finesse_batch: a batch's calls through the bypass give what the same calls through the
// kernel give (twin trees, as root and as nobody), calls off the mount and declined ones come
// back in the batch from the kernel, each call's error is its own, ordered batches stop where
// asked, many calls are served together, and a daemon killed mid-batch leaves every reported
// result true and nothing done twice.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "attached_fs.h"
#include "op_pair.h"
#include "wire.h"

namespace finesse::testing {
namespace {

// One call of a script, with its own buffers: built once per tree.
struct Step {
  int op = 0;
  std::string path, path2;
  int flags = 0;
  mode_t mode = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  unsigned mask = 0;
  bool times = false;
  std::string name;
  size_t size = 0;
  bool absolute = false;  // path (and path2) taken as they are, not below the tree
};

struct Built {
  std::vector<finesse_op> ops;
  std::vector<std::string> paths;  // kept alive for ops' pointers
  std::vector<Step> steps;
  std::vector<struct stat> st;
  std::vector<struct statx> stx;
  std::vector<std::vector<char>> buf;
  struct timespec times[2] = {{1000000, 5}, {2000000, 7}};
};

void build(const std::vector<Step> &script, const std::string &root, Built *b) {
  b->steps = script;
  const std::vector<Step> &steps = b->steps;
  const size_t n = steps.size();
  b->ops.assign(n, finesse_op{});
  b->paths.assign(2 * n, "");
  b->st.assign(n, {});
  b->stx.assign(n, {});
  b->buf.assign(n, std::vector<char>(256, '#'));
  for (size_t i = 0; i < n; i++) {
    const Step &s = steps[i];
    finesse_op &o = b->ops[i];
    b->paths[2 * i] = s.absolute ? s.path : root + "/" + s.path;
    b->paths[2 * i + 1] = s.op == FINESSE_OP_SYMLINK || s.absolute ? s.path2 : root + "/" + s.path2;
    o.op = s.op;
    o.dirfd = o.dirfd2 = AT_FDCWD;
    o.path = b->paths[2 * i].c_str();
    o.path2 = b->paths[2 * i + 1].c_str();
    o.flags = s.flags;
    o.mode = s.mode;
    o.uid = s.uid;
    o.gid = s.gid;
    o.mask = s.mask;
    o.times = s.times ? b->times : nullptr;
    o.name = s.name.c_str();
    o.size = s.size;
    o.buf = s.op == FINESSE_OP_STAT    ? static_cast<void *>(&b->st[i])
            : s.op == FINESSE_OP_STATX ? static_cast<void *>(&b->stx[i])
                                       : static_cast<void *>(b->buf[i].data());
    o.result = 12345;  // must be overwritten
    o.error = 12345;
  }
}

// What a call's outcome shows, without what differs between twin trees (inode numbers, times).
std::string outcome(const finesse_op &o, const Built &b, size_t i) {
  std::string s = std::to_string(o.result) + " " + strerror(o.error);
  if (o.result < 0) return s;
  if (o.op == FINESSE_OP_STAT) s += " " + describe_stat(b.st[i]);
  if (o.op == FINESSE_OP_STATX) {
    const struct statx &x = b.stx[i];
    char line[128];
    snprintf(line, sizeof(line), " mode=%o nlink=%u uid=%u gid=%u size=%llu", x.stx_mode,
             x.stx_nlink, x.stx_uid, x.stx_gid, static_cast<unsigned long long>(x.stx_size));
    s += line;
  }
  if (o.op == FINESSE_OP_READLINK || (o.op == FINESSE_OP_GETXATTR && o.size > 0))
    s += " [" + std::string(b.buf[i].data(), static_cast<size_t>(o.result)) + "]";
  return s;
}

// The same calls made one by one with libc, as finesse_batch's kernel route would.
void run_libc(Built &b) {
  for (finesse_op &o : b.ops) {
    errno = 0;
    long r;
    switch (o.op) {
      case FINESSE_OP_STAT:
        r = fstatat(o.dirfd, o.path, static_cast<struct stat *>(o.buf), o.flags);
        break;
      case FINESSE_OP_STATX:
        r = statx(o.dirfd, o.path, o.flags, o.mask, static_cast<struct statx *>(o.buf));
        break;
      case FINESSE_OP_ACCESS:
        r = faccessat(o.dirfd, o.path, static_cast<int>(o.mode), o.flags);
        break;
      case FINESSE_OP_UNLINK:
        r = unlinkat(o.dirfd, o.path, o.flags);
        break;
      case FINESSE_OP_MKDIR:
        r = mkdirat(o.dirfd, o.path, o.mode);
        break;
      case FINESSE_OP_RENAME:
        r = renameat2(o.dirfd, o.path, o.dirfd2, o.path2, static_cast<unsigned>(o.flags));
        break;
      case FINESSE_OP_CHMOD:
        r = fchmodat(o.dirfd, o.path, o.mode, o.flags);
        break;
      case FINESSE_OP_CHOWN:
        r = fchownat(o.dirfd, o.path, o.uid, o.gid, o.flags);
        break;
      case FINESSE_OP_UTIMENS:
        r = utimensat(o.dirfd, o.path, o.times, o.flags);
        break;
      case FINESSE_OP_SYMLINK:
        r = symlinkat(o.path2, o.dirfd, o.path);
        break;
      case FINESSE_OP_LINK:
        r = linkat(o.dirfd, o.path, o.dirfd2, o.path2, o.flags);
        break;
      case FINESSE_OP_READLINK:
        r = readlinkat(o.dirfd, o.path, static_cast<char *>(o.buf), o.size);
        break;
      case FINESSE_OP_GETXATTR:
        r = (o.flags & AT_SYMLINK_NOFOLLOW) ? lgetxattr(o.path, o.name, o.buf, o.size)
                                            : getxattr(o.path, o.name, o.buf, o.size);
        break;
      default:
        r = -1;
        errno = EINVAL;
    }
    o.result = r;
    o.error = r < 0 ? errno : 0;
  }
}

// Every kind of call, in an order where later calls see what earlier ones did.
std::vector<Step> ordered_script(const std::string &elsewhere) {
  std::vector<Step> v;
  auto add = [&](Step s) { v.push_back(std::move(s)); };
  add({.op = FINESSE_OP_STAT, .path = "a"});
  add({.op = FINESSE_OP_STAT, .path = "missing"});
  add({.op = FINESSE_OP_STAT, .path = "open/c", .flags = AT_SYMLINK_NOFOLLOW});
  add({.op = FINESSE_OP_STAT, .path = "open/c"});
  add({.op = FINESSE_OP_STAT, .path = "priv/a"});
  add({.op = FINESSE_OP_STATX, .path = "open/a", .mask = STATX_BASIC_STATS});
  add({.op = FINESSE_OP_ACCESS, .path = "priv/a", .mode = R_OK});
  add({.op = FINESSE_OP_ACCESS, .path = "ro", .mode = W_OK});
  add({.op = FINESSE_OP_ACCESS, .path = "mine/a", .mode = R_OK | W_OK});
  add({.op = FINESSE_OP_MKDIR, .path = "open/d1", .mode = 0755});
  add({.op = FINESSE_OP_MKDIR, .path = "open/d1", .mode = 0755});
  add({.op = FINESSE_OP_MKDIR, .path = "ro/x", .mode = 0700});
  add({.op = FINESSE_OP_SYMLINK, .path = "open/l1", .path2 = "a"});
  add({.op = FINESSE_OP_READLINK, .path = "open/l1", .size = 200});
  add({.op = FINESSE_OP_READLINK, .path = "open/a", .size = 200});
  add({.op = FINESSE_OP_LINK, .path = "open/a", .path2 = "open/h1"});
  add({.op = FINESSE_OP_RENAME, .path = "open/h1", .path2 = "open/d1/h2"});
  add({.op = FINESSE_OP_RENAME, .path = "open/d1/h2", .path2 = "ro/h3"});
  add({.op = FINESSE_OP_CHMOD, .path = "open/d1/h2", .mode = 0600});
  add({.op = FINESSE_OP_CHMOD, .path = "ro/a", .mode = 0666});
  add({.op = FINESSE_OP_CHOWN, .path = "mine/a", .uid = 65534, .gid = 65534});
  add({.op = FINESSE_OP_CHOWN, .path = "open/d1/h2", .uid = 65534});
  add({.op = FINESSE_OP_UTIMENS, .path = "open/a", .times = true});
  add({.op = FINESSE_OP_UTIMENS, .path = "ro/a"});
  add({.op = FINESSE_OP_GETXATTR, .path = "open/a", .name = "user.k", .size = 200});
  add({.op = FINESSE_OP_GETXATTR, .path = "open/a", .name = "user.none", .size = 200});
  add({.op = FINESSE_OP_GETXATTR, .path = "open/a", .name = "user.k"});
  add({.op = FINESSE_OP_GETXATTR,
       .path = "open/c",
       .flags = AT_SYMLINK_NOFOLLOW,
       .name = "user.k",
       .size = 200});
  add({.op = FINESSE_OP_STAT, .path = "open/d1/h2"});
  add({.op = FINESSE_OP_UNLINK, .path = "open/d1/h2"});
  add({.op = FINESSE_OP_UNLINK, .path = "open/d1/h2"});
  add({.op = FINESSE_OP_UNLINK, .path = "open/d1"});
  add({.op = FINESSE_OP_UNLINK, .path = "open/d1", .flags = AT_REMOVEDIR});
  add({.op = FINESSE_OP_UNLINK, .path = "open", .flags = AT_REMOVEDIR});
  add({.op = FINESSE_OP_UNLINK, .path = "sticky/a"});
  add({.op = FINESSE_OP_UNLINK, .path = "sticky/b"});
  // Off any Finesse mount: the kernel, inside the batch.
  add({.op = FINESSE_OP_MKDIR, .path = elsewhere + "/d", .mode = 0700, .absolute = true});
  add({.op = FINESSE_OP_STAT, .path = elsewhere + "/d", .absolute = true});
  add({.op = FINESSE_OP_UNLINK, .path = elsewhere + "/d", .flags = AT_REMOVEDIR, .absolute = true});
  // Declined by the bypass (a mask it does not serve): the kernel, inside the batch.
  add({.op = FINESSE_OP_STATX, .path = "a", .mask = STATX_ALL});
  return v;
}

// Calls of every kind a multi-call request carries, and a few it does not, none depending
// on another (no path used twice): any order gives the same outcomes.
std::vector<Step> independent_script(const std::string &elsewhere) {
  std::vector<Step> v;
  auto add = [&](Step s) { v.push_back(std::move(s)); };
  add({.op = FINESSE_OP_STAT, .path = "a"});
  add({.op = FINESSE_OP_STAT, .path = "missing"});
  add({.op = FINESSE_OP_STAT, .path = "open/c", .flags = AT_SYMLINK_NOFOLLOW});
  add({.op = FINESSE_OP_STAT, .path = "priv/a"});
  add({.op = FINESSE_OP_STATX, .path = "open/a", .mask = STATX_BASIC_STATS});
  add({.op = FINESSE_OP_ACCESS, .path = "ro", .mode = W_OK});
  add({.op = FINESSE_OP_ACCESS, .path = "mine", .mode = R_OK | X_OK});
  add({.op = FINESSE_OP_MKDIR, .path = "open/d1", .mode = 0755});
  add({.op = FINESSE_OP_MKDIR, .path = "ro/x", .mode = 0700});
  add({.op = FINESSE_OP_MKDIR, .path = "priv/y", .mode = 0700});
  add({.op = FINESSE_OP_SYMLINK, .path = "open/l1", .path2 = "a"});
  add({.op = FINESSE_OP_SYMLINK, .path = "ro/l2", .path2 = "a"});
  add({.op = FINESSE_OP_LINK, .path = "open/sub", .path2 = "open/h0"});
  add({.op = FINESSE_OP_RENAME, .path = "ro/a", .path2 = "open/r1"});
  add({.op = FINESSE_OP_CHMOD, .path = "mine/a", .mode = 0600});
  add({.op = FINESSE_OP_CHMOD, .path = "sticky/a", .mode = 0600});
  add({.op = FINESSE_OP_CHOWN, .path = "sticky/b", .uid = 65534, .gid = 65534});
  add({.op = FINESSE_OP_UTIMENS, .path = "priv/a", .times = true});
  add({.op = FINESSE_OP_UTIMENS, .path = "open", .flags = AT_SYMLINK_NOFOLLOW});
  add({.op = FINESSE_OP_UNLINK, .path = "open/sub", .flags = AT_REMOVEDIR});
  add({.op = FINESSE_OP_UNLINK, .path = "mine", .flags = AT_REMOVEDIR});
  add({.op = FINESSE_OP_UNLINK, .path = "sticky", .flags = AT_REMOVEDIR});
  add({.op = FINESSE_OP_READLINK, .path = "open/c", .size = 200});
  add({.op = FINESSE_OP_GETXATTR, .path = "open/a", .name = "user.k", .size = 200});
  add({.op = FINESSE_OP_STAT, .path = elsewhere, .absolute = true});
  add({.op = FINESSE_OP_STAT, .path = elsewhere + "/none", .absolute = true});
  add({.op = FINESSE_OP_MKDIR, .path = elsewhere + "/d", .mode = 0700, .absolute = true});
  return v;
}

// Runs the script through finesse_batch on tree a and libc on tree b; the mismatches (printed)
// and, through *bypassed / *elsewhere_kernel, how the calls went.
int compare_twins(const std::string &a, const std::string &b, const std::string &elsewhere_a,
                  const std::string &elsewhere_b, unsigned flags, int *bypassed,
                  int *elsewhere_kernel) {
  auto script = flags & FINESSE_BATCH_ORDERED ? ordered_script : independent_script;
  Built ba, bb;
  build(script(elsewhere_a), a, &ba);
  build(script(elsewhere_b), b, &bb);
  long failed = finesse_batch(ba.ops.data(), ba.ops.size(), flags);
  run_libc(bb);
  int mismatches = 0;
  long failed_b = 0;
  *bypassed = *elsewhere_kernel = 0;
  for (size_t i = 0; i < ba.ops.size(); i++) {
    const std::string oa = outcome(ba.ops[i], ba, i), ob = outcome(bb.ops[i], bb, i);
    failed_b += bb.ops[i].result < 0;
    if (ba.ops[i].route == FINESSE_ROUTE_BYPASS) ++*bypassed;
    if (std::string(ba.ops[i].path).rfind(elsewhere_a, 0) == 0 &&
        ba.ops[i].route == FINESSE_ROUTE_KERNEL)
      ++*elsewhere_kernel;
    if (oa != ob) {
      fprintf(stderr, "call %zu (kind %d, %s): batch %s, kernel %s\n", i, ba.ops[i].op,
              ba.ops[i].path, oa.c_str(), ob.c_str());
      mismatches++;
    }
  }
  if (failed != failed_b) {
    fprintf(stderr, "batch counted %ld failures, the kernel %ld\n", failed, failed_b);
    mismatches++;
  }
  const std::string ta = describe_tree(a), tb = describe_tree(b);
  if (ta != tb) {
    fprintf(stderr, "trees differ:\n--- batch\n%s--- kernel\n%s", ta.c_str(), tb.c_str());
    mismatches++;
  }
  return mismatches;
}

using Param = std::tuple<FsKind, bool /*as root*/, bool /*ordered*/>;
class BatchTwins : public ::testing::TestWithParam<Param> {};

// Ordered: one call after another. Independent: many calls to a request (wire::kBatch).
TEST_P(BatchTwins, SameOutcomesAsTheKernelCallByCall) {
  auto [kind, root, ordered] = GetParam();
  const unsigned flags = ordered ? FINESSE_BATCH_ORDERED : 0;
  AttachedFs fs(mount_options(kind, /*default_permissions=*/true, /*allow_other=*/true));
  std::string a, b;
  ASSERT_TRUE(build_twin_trees(fs.mnt(), &a, &b));
  TempDir ea, eb;  // off the mount
  chmod(ea.path().c_str(), 0777);
  chmod(eb.path().c_str(), 0777);
  const size_t calls = (ordered ? ordered_script("") : independent_script("")).size();
  auto run = [&] {
    int bypassed = 0, elsewhere_kernel = 0;
    int m = compare_twins(a, b, ea.path(), eb.path(), flags, &bypassed, &elsewhere_kernel);
    if (m != 0) return 1;
    if (elsewhere_kernel != 3) return 2;
    return bypassed > static_cast<int>(calls) / 2 ? 0 : 3;
  };
  if (root) {
    EXPECT_EQ(run(), 0) << "1: mismatches (stderr), 2: calls off the mount not the kernel's, "
                           "3: too few calls bypassed";
  } else {
    EXPECT_EQ(run_as(run), 0) << "1: mismatches (stderr), 2: calls off the mount not the "
                                 "kernel's, 3: too few calls bypassed";
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, BatchTwins,
                         ::testing::Combine(::testing::Values(FsKind::kMemfs, FsKind::kPassthrough),
                                            ::testing::Bool(), ::testing::Bool()),
                         [](const ::testing::TestParamInfo<Param> &i) {
                           return fs_name(std::get<0>(i.param)) +
                                  (std::get<1>(i.param) ? "_root" : "_nobody") +
                                  (std::get<2>(i.param) ? "_ordered" : "_independent");
                         });

// Independent calls, many at once: 300 mkdirs, then their stats, then 300 rmdirs, as three
// batches; each batch's outcomes and the tree are the kernel's, and the server served them,
// many calls to a request.
TEST(Batch, ManyIndependentCallsServedTogether) {
  AttachedFs fs(mount_options(FsKind::kMemfs, true, true));
  std::string a, b;
  ASSERT_TRUE(build_twin_trees(fs.mnt(), &a, &b));
  constexpr int kN = 300;
  for (int kind : {FINESSE_OP_MKDIR, FINESSE_OP_STAT, FINESSE_OP_UNLINK}) {
    std::vector<Step> steps;
    for (int i = 0; i < kN; i++) {
      Step s{.op = kind, .path = "open/n" + std::to_string(i), .mode = 0750};
      if (kind == FINESSE_OP_UNLINK) s.flags = AT_REMOVEDIR;
      steps.push_back(s);
    }
    // EEXIST, a file's attributes, ENOTDIR.
    steps.push_back({.op = kind,
                     .path = "ro/a",
                     .flags = kind == FINESSE_OP_UNLINK ? AT_REMOVEDIR : 0,
                     .mode = 0750});
    Built ba, bb;
    build(steps, a, &ba);
    build(steps, b, &bb);
    const uint64_t served = fs.served_total();
    const uint64_t packs = fs.stats().served[static_cast<size_t>(wire::Op::kBatch)];
    long failed = finesse_batch(ba.ops.data(), ba.ops.size(), 0);
    run_libc(bb);
    EXPECT_EQ(failed, kind == FINESSE_OP_STAT ? 0 : 1) << kind;
    int bypassed = 0;
    for (size_t i = 0; i < ba.ops.size(); i++) {
      EXPECT_EQ(outcome(ba.ops[i], ba, i), outcome(bb.ops[i], bb, i)) << kind << " call " << i;
      bypassed += ba.ops[i].route == FINESSE_ROUTE_BYPASS;
    }
    EXPECT_EQ(bypassed, kN + 1) << kind;
    EXPECT_GE(fs.served_total() - served, static_cast<uint64_t>(kN)) << kind;
    // Several calls to a request (wire::kBatch), not one each.
    const uint64_t requests = fs.stats().served[static_cast<size_t>(wire::Op::kBatch)] - packs;
    EXPECT_GE(requests, static_cast<uint64_t>(kN) / wire::kBatchMax) << kind;
    EXPECT_LE(requests, static_cast<uint64_t>(kN) / 8) << kind;
    EXPECT_EQ(describe_tree(a), describe_tree(b)) << kind;
  }
}

TEST(Batch, EachCallsErrorIsItsOwn) {
  AttachedFs fs(mount_options(FsKind::kMemfs, true, true));
  std::string d = fs.path("t");
  ASSERT_EQ(mkdir(d.c_str(), 0755), 0);
  std::string x = d + "/x", y = d + "/y", z = d + "/z";
  struct stat st;
  finesse_op ops[5] = {};
  ops[0] = {.op = FINESSE_OP_MKDIR, .dirfd = AT_FDCWD, .path = x.c_str(), .mode = 0755};
  ops[1] = {.op = 99, .dirfd = AT_FDCWD, .path = y.c_str()};
  ops[2] = {.op = FINESSE_OP_MKDIR, .dirfd = AT_FDCWD, .path = x.c_str(), .mode = 0755};
  ops[3] = {.op = FINESSE_OP_STAT, .dirfd = AT_FDCWD, .path = z.c_str(), .buf = &st};
  ops[4] = {.op = FINESSE_OP_MKDIR, .dirfd = AT_FDCWD, .path = y.c_str(), .mode = 0755};
  EXPECT_EQ(finesse_batch(ops, 5, FINESSE_BATCH_ORDERED), 3);
  EXPECT_EQ(ops[0].result, 0);
  EXPECT_EQ(ops[0].route, FINESSE_ROUTE_BYPASS);
  EXPECT_EQ(ops[1].result, -1);
  EXPECT_EQ(ops[1].error, EINVAL);
  EXPECT_EQ(ops[1].route, FINESSE_ROUTE_NONE);
  EXPECT_EQ(ops[2].error, EEXIST);
  EXPECT_EQ(ops[3].error, ENOENT);
  EXPECT_EQ(ops[4].result, 0);
  EXPECT_EQ(ops[4].error, 0);

  // Stop on error: after the first failure nothing more is made.
  ASSERT_EQ(rmdir(y.c_str()), 0);
  EXPECT_EQ(finesse_batch(ops, 5, FINESSE_BATCH_STOP_ON_ERROR), 5);
  EXPECT_EQ(ops[0].error, EEXIST);
  for (int i = 1; i < 5; i++) {
    EXPECT_EQ(ops[i].result, -1) << i;
    EXPECT_EQ(ops[i].error, ECANCELED) << i;
    EXPECT_EQ(ops[i].route, FINESSE_ROUTE_NONE) << i;
  }
  EXPECT_NE(access(y.c_str(), F_OK), 0) << "a call after the failure was made";

  // Unknown flags: nothing is made.
  errno = 0;
  EXPECT_EQ(finesse_batch(ops, 5, 0x80), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(finesse_batch(nullptr, 0, 0), 0);
}

// The daemon killed while a batch of unlinks is under way: every call reported done was done,
// none reports a name already gone (nothing was made twice: a removal the server made whose
// answer was lost is ENOTCONN, as the kernel path says for a dead daemon).
TEST(Batch, DaemonKilledMidBatch) {
  MountOptions o = mount_options(FsKind::kPassthrough, true, true);
  o.env["LD_PRELOAD"] = fs_hook_lib();
  o.env["FINESSE_HOOK_SLOW_US"] = "300";  // every lookup and getattr: the batch takes a while
  AttachedFs fs(o);
  constexpr int kN = 1000;
  const std::string src = fs.fs().source();
  for (int i = 0; i < kN; i++) {
    std::string p = src + "/f" + std::to_string(i);
    int fd = open(p.c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    close(fd);
  }
  std::vector<std::string> paths;
  for (int i = 0; i < kN; i++) paths.push_back(fs.path("f" + std::to_string(i)));
  std::vector<finesse_op> ops(kN);
  for (int i = 0; i < kN; i++)
    ops[i] = {.op = FINESSE_OP_UNLINK, .dirfd = AT_FDCWD, .path = paths[i].c_str()};
  // Killed once the 300th removal is seen in the source: calls go in requests of up to 64,
  // at most 4 in flight, so the first request's answers are in by then.
  std::thread killer([&] {
    const std::string first = src + "/f300";
    for (int i = 0; i < 20000 && access(first.c_str(), F_OK) == 0; i++) usleep(100);
    kill(fs.fs().daemon_pid(), SIGKILL);
  });
  finesse_batch(ops.data(), ops.size(), 0);
  killer.join();
  int done = 0, not_done = 0;
  for (int i = 0; i < kN; i++) {
    const bool gone = access((src + "/f" + std::to_string(i)).c_str(), F_OK) != 0;
    const finesse_op &op = ops[i];
    if (op.result == 0) {
      done++;
      EXPECT_TRUE(gone) << "call " << i << " reported done, its file is still there";
    } else {
      not_done++;
      EXPECT_NE(op.error, ENOENT) << "call " << i << ": a removal made twice";
      if (op.error != ENOTCONN) ADD_FAILURE() << "call " << i << ": " << strerror(op.error);
    }
  }
  EXPECT_GT(done, 0);
  EXPECT_GT(not_done, 0) << "the daemon died after the batch: nothing was tested";
}

}  // namespace
}  // namespace finesse::testing
