// The credential-change counters of finesse_track.bpf.c (pinned "cred_gen", mapped by a root
// server, read with bpf() lookups by others): readable by anyone, mappable through a
// read-write fd only (root), never writable through a read-only one; every
// credential-changing system call bumps the calling process's slot and the global entry,
// from any thread. Also prints what the server's check costs (cred_watch.cpp).
#include <bpf/bpf.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <thread>

#include "attached_fs.h"
#include "cred_watch.h"
#include "track_util.h"

namespace finesse::testing {
namespace {

size_t map_len() {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return ((FINESSE_CRED_GEN_SLOTS + 1) * sizeof(uint64_t) + page - 1) / page * page;
}

class CredGen : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_unique<AttachedFs>(MountOptions{});  // attaching loads the programs
    int fd = bpf_obj_get(FINESSE_CRED_GEN_PIN);          // read-write: root
    ASSERT_GE(fd, 0) << "attach did not pin " FINESSE_CRED_GEN_PIN;
    void *p = mmap(nullptr, map_len(), PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    ASSERT_NE(p, MAP_FAILED) << strerror(errno);
    slots_ = static_cast<const uint64_t *>(p);
  }
  void TearDown() override {
    if (slots_) munmap(const_cast<uint64_t *>(slots_), map_len());
  }
  uint64_t mine() const {
    return __atomic_load_n(&slots_[getpid() & (FINESSE_CRED_GEN_SLOTS - 1)], __ATOMIC_ACQUIRE);
  }
  uint64_t all() const {
    return __atomic_load_n(&slots_[FINESSE_CRED_GEN_SLOTS], __ATOMIC_ACQUIRE);
  }
  // Whether fn (a system call that leaves the credentials as they are) bumps both entries.
  void expect_bumps(const char *what, const std::function<long()> &fn) {
    uint64_t m0 = mine(), a0 = all();
    EXPECT_EQ(fn(), 0) << what << ": " << strerror(errno);
    EXPECT_GT(mine(), m0) << what << " did not bump this process's slot";
    EXPECT_GT(all(), a0) << what << " did not bump the global entry";
    EXPECT_EQ(all() & FINESSE_CRED_GEN_DEAD, 0u);
  }

  std::unique_ptr<AttachedFs> fs_;
  const uint64_t *slots_ = nullptr;
};

TEST_F(CredGen, PinnedForEveryoneToReadNeverToWrite) {
  struct stat st;
  ASSERT_EQ(stat(FINESSE_CRED_GEN_PIN, &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  PinnedMap ro(FINESSE_CRED_GEN_PIN);
  ASSERT_TRUE(ro.valid());
  void *w = mmap(nullptr, map_len(), PROT_READ | PROT_WRITE, MAP_SHARED, ro.fd(), 0);
  EXPECT_EQ(w, MAP_FAILED) << "a read-only fd gave a writable mapping";
  if (w != MAP_FAILED) munmap(w, map_len());
  uint32_t key = FINESSE_CRED_GEN_SLOTS;
  uint64_t v = 0;
  EXPECT_EQ(ro.lookup(&key, &v), 0) << "a read-only fd cannot read the global entry";
  EXPECT_EQ(v & FINESSE_CRED_GEN_DEAD, 0u);
}

TEST_F(CredGen, CredentialSyscallsBumpTheCallersSlot) {
  std::vector<gid_t> groups(getgroups(0, nullptr));
  ASSERT_GE(getgroups(groups.size(), groups.data()), 0);
  // Each leaves the credentials unchanged: the programs count calls, not changes.
  expect_bumps("setresuid", [] { return syscall(SYS_setresuid, -1, -1, -1); });
  expect_bumps("setresgid", [] { return syscall(SYS_setresgid, -1, -1, -1); });
  expect_bumps("setuid", [] { return syscall(SYS_setuid, getuid()); });
  expect_bumps("setreuid", [] { return syscall(SYS_setreuid, -1, -1); });
  expect_bumps("setgroups", [&] { return syscall(SYS_setgroups, groups.size(), groups.data()); });
  expect_bumps("setfsuid", [] { return syscall(SYS_setfsuid, -1) >= 0 ? 0L : -1L; });
  expect_bumps("capset", [] {
    struct {
      uint32_t version;
      int pid;
    } hdr{0x20080522, 0};
    struct {
      uint32_t effective, permitted, inheritable;
    } data[2] = {};
    if (syscall(SYS_capget, &hdr, data) != 0) return -1L;
    return syscall(SYS_capset, &hdr, data);
  });
  // From another thread: the process's (tgid's) slot.
  expect_bumps("setresuid in a thread", [] {
    long rc = -1;
    std::thread t([&] { rc = syscall(SYS_setresuid, -1, -1, -1); });
    t.join();
    return rc;
  });
}

// A server that is not root can open the pin read-only only, cannot map it, and reads its
// clients' counters with lookups (cred_watch.cpp): they move, and the check follows them.
TEST_F(CredGen, NonRootServerReadsCountersWithLookups) {
  using namespace finesse::server;
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    // euid nobody (no capabilities), saved uid 0 to come back.
    if (syscall(SYS_setresuid, 0, 65534, 0) != 0) _exit(10);
    if (bpf_obj_get(FINESSE_CRED_GEN_PIN) >= 0) _exit(11);  // read-write: refused
    PinnedMap ro(FINESSE_CRED_GEN_PIN);
    if (!ro.valid()) _exit(12);
    void *p = mmap(nullptr, map_len(), PROT_READ, MAP_SHARED, ro.fd(), 0);
    if (p != MAP_FAILED) _exit(13);  // if this ever works, the server could map it too
    uint32_t slot = getpid() & (FINESSE_CRED_GEN_SLOTS - 1);
    uint64_t before = 0, after = 0;
    if (ro.lookup(&slot, &before) != 0) _exit(14);
    Creds c;
    c.pid = getpid();
    CredWatch w;
    CredCounter counter;
    w.admitted.privileged = true;  // admitted as root: a re-read may never raise above that
    w.have_admitted = true;
    MountAccess access{true, 0, 0};
    if (!creds_current(counter, &c, &w, access) || c.uid != 65534) _exit(20);
    if (syscall(SYS_setresuid, -1, 0, -1) != 0) _exit(15);  // root again, by a raw call
    if (ro.lookup(&slot, &after) != 0 || after <= before) _exit(21);
    if (!creds_current(counter, &c, &w, access) || c.uid != 0 || !c.privileged) _exit(22);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1x: setup, 13: mapped through a read-only fd, 2x: a "
                                       "change not counted or not followed";
}

// What the server pays: the per-request check when nothing changed (one load per client
// plus a coarse clock read), and a re-read of every thread's credentials after a change.
TEST_F(CredGen, CheckAndReReadCost) {
  using namespace finesse::server;
  Creds c;
  c.pid = getpid();
  CredWatch w;
  CredCounter counter;
  MountAccess access{true, 0, 0};
  ASSERT_TRUE(creds_current(counter, &c, &w, access)) << "this test's own creds are not servable";
  EXPECT_EQ(c.uid, geteuid());
  EXPECT_EQ(c.ruid, getuid());
  constexpr int kChecks = 1'000'000;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kChecks; i++) creds_current(counter, &c, &w, access);
  auto t1 = std::chrono::steady_clock::now();
  double check_ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / kChecks;
  PinnedMap ro(FINESSE_CRED_GEN_PIN);
  ASSERT_TRUE(ro.valid());
  uint32_t slot = getpid() & (FINESSE_CRED_GEN_SLOTS - 1);
  uint64_t v = 0;
  auto l0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kChecks / 10; i++) ASSERT_EQ(ro.lookup(&slot, &v), 0);
  auto l1 = std::chrono::steady_clock::now();
  double lookup_ns = std::chrono::duration<double, std::nano>(l1 - l0).count() / (kChecks / 10);
  auto reread_us = [&] {
    constexpr int kReads = 2000;
    Creds out;
    bool can_change, mixed;
    auto a = std::chrono::steady_clock::now();
    for (int i = 0; i < kReads; i++)
      EXPECT_EQ(read_process_creds(getpid(), &out, &can_change, &mixed), "");
    auto b = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::micro>(b - a).count() / kReads;
  };
  size_t threads = 0;
  for (const auto &e : std::filesystem::directory_iterator("/proc/self/task")) (void)e, threads++;
  double reread = reread_us();
  // Three more threads, parked.
  std::atomic<bool> stop{false};
  std::vector<std::thread> extra;
  for (int i = 0; i < 3; i++)
    extra.emplace_back([&] {
      while (!stop) usleep(1000);
    });
  double reread4 = reread_us();
  stop = true;
  for (auto &t : extra) t.join();
  std::printf(
      "cred check (unchanged, root server: mapped): %.1f ns; non-root server (bpf "
      "lookup): %.1f ns; re-read: %.2f us (%zu threads), %.2f us (%zu)\n",
      check_ns, lookup_ns, reread, threads, reread4, threads + 3);
  RecordProperty("check_ns", std::to_string(check_ns));
  RecordProperty("reread_us", std::to_string(reread));
}

}  // namespace
}  // namespace finesse::testing
