// Hostile clients: garbage, out-of-range indices and lengths, unterminated strings, torn
// slots, invalid state words, slots posted and never read, a stopped client, fds pushed at
// the server. The server must answer garbage with FALLBACK (never crash), and a well-behaved
// client on the same mount must keep being served, with the tree it built intact.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "attached_fs.h"
#include "clock.h"
#include "control.h"
#include "fuse_node.h"
#include "good_client.h"
#include "loader.h"
#include "raw_client.h"
#include "unix_socket.h"

namespace finesse::testing {
namespace {

using wire::Op;

constexpr int kWaitMs = 10000;  // a stall detector, not a latency bound

MountOptions memfs_opts() {
  return mount_options(FsKind::kMemfs, true, true);
}

// Runs one prepared slot-0 request and returns the server's result.
int32_t run_slot(RawClient &c, uint32_t i = 0) {
  c.post(i);
  if (!c.wait_done(i, kWaitMs)) return INT32_MIN;
  return c.slot(i)->h.result;
}

// A well-formed stat of path in slot 0, then lets mutate spoil it.
template <typename F>
int32_t spoiled_stat(RawClient &c, F mutate, Op op = Op::kStat) {
  memset(c.slot(0)->data, 0, wire::kSlotDataSize);
  wire::Request r{};
  c.put_request(0, op, r, "f", "g", "user.k");
  auto *req = reinterpret_cast<wire::Request *>(c.slot(0)->data);
  mutate(c.slot(0), req);
  return run_slot(c);
}

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_unique<AttachedFs>(memfs_opts());
    ASSERT_EQ(mknod(fs_->path("f").c_str(), S_IFREG | 0644, 0), 0);
    sock_ = server_socket_of(fs_->mnt());
    ASSERT_FALSE(sock_.empty());
  }
  std::unique_ptr<AttachedFs> fs_;
  std::string sock_;
};

TEST_F(Hostile, MalformedRequestsGetFallbackAndValidOnesStillWork) {
  RawClient c;
  ASSERT_EQ(c.connect(sock_), 0);
  ASSERT_EQ(c.status, wire::HelloStatus::kServed);
  auto nothing = [](wire::Slot *, wire::Request *) {};
  EXPECT_EQ(spoiled_stat(c, nothing), 0) << "the well-formed control request";
  EXPECT_EQ(c.slot(0)->h.result, 0);
  const int32_t fb = wire::kFallback;
  struct Case {
    const char *what;
    std::function<void(wire::Slot *, wire::Request *)> mutate;
    Op op = Op::kStat;
  };
  std::vector<Case> cases = {
      {"op 0", [](wire::Slot *s, wire::Request *) { s->h.op = 0; }},
      {"op kCount", [](wire::Slot *s, wire::Request *) { s->h.op = wire::kOpCount; }},
      {"op ~0", [](wire::Slot *s, wire::Request *) { s->h.op = 0xffffffff; }},
      {"req_len > data",
       [](wire::Slot *s, wire::Request *) { s->h.req_len = wire::kSlotDataSize + 1; }},
      {"req_len ~0", [](wire::Slot *s, wire::Request *) { s->h.req_len = 0xffffffff; }},
      {"req_len short",
       [](wire::Slot *s, wire::Request *) { s->h.req_len = sizeof(wire::Request) - 1; }},
      {"req_len 0", [](wire::Slot *s, wire::Request *) { s->h.req_len = 0; }},
      {"req_len cuts the NUL",
       [](wire::Slot *s, wire::Request *r) { s->h.req_len = r->path[0].path.off + 1; }},
      {"path inside the header", [](wire::Slot *, wire::Request *r) { r->path[0].path.off = 8; }},
      {"path off = data size",
       [](wire::Slot *, wire::Request *r) { r->path[0].path.off = wire::kSlotDataSize; }},
      {"path off ~0", [](wire::Slot *, wire::Request *r) { r->path[0].path.off = 0xffffffff; }},
      {"path off+len wraps",
       [](wire::Slot *, wire::Request *r) {
         r->path[0].path = {0xfffffff0, 0x20};
       }},
      {"path len ~0", [](wire::Slot *, wire::Request *r) { r->path[0].path.len = 0xffffffff; }},
      {"path len = PATH_MAX",
       [](wire::Slot *, wire::Request *r) { r->path[0].path.len = wire::kPathMax; }},
      {"path without NUL",
       [](wire::Slot *s, wire::Request *r) { s->data[r->path[0].path.off + 1] = 'x'; }},
      {"path with inner NUL", [](wire::Slot *, wire::Request *r) { r->path[0].path.len = 3; }},
      {"verify_len > len", [](wire::Slot *, wire::Request *r) { r->path[0].verify_len = 2; }},
      {"verify_len ~0", [](wire::Slot *, wire::Request *r) { r->path[0].verify_len = 0xffffffff; }},
      {"rename: second path wraps",
       [](wire::Slot *, wire::Request *r) {
         r->path[1].path = {0xffffffff, 1};
       },
       Op::kRename},
      {"link: second path unterminated",
       [](wire::Slot *s, wire::Request *r) { s->data[r->path[1].path.off + 1] = 'y'; }, Op::kLink},
      {"symlink: target off ~0", [](wire::Slot *, wire::Request *r) { r->name.off = 0xffffffff; },
       Op::kSymlink},
      {"getxattr: name too long",
       [](wire::Slot *, wire::Request *r) { r->name.len = wire::kNameMax + 1; }, Op::kGetxattr},
      {"getxattr: name wraps",
       [](wire::Slot *, wire::Request *r) { r->name = {0x80000000, 0x80000000}; }, Op::kGetxattr},
  };
  for (const Case &k : cases) EXPECT_EQ(spoiled_stat(c, k.mutate, k.op), fb) << k.what;
  // Out-of-range values in fields the decoder passes on: answered (any errno) or declined.
  std::vector<Case> odd = {
      {"setattr: every valid bit",
       [](wire::Slot *, wire::Request *r) {
         r->valid = 0xffffffff;
         r->size = ~0ull;
       },
       Op::kSetattr},
      {"access: mask ~0", [](wire::Slot *, wire::Request *r) { r->mode = 0xffffffff; },
       Op::kAccess},
      {"readlink: size ~0", [](wire::Slot *, wire::Request *r) { r->size = ~0ull; }, Op::kReadlink},
      {"getxattr: size ~0", [](wire::Slot *, wire::Request *r) { r->size = ~0ull; }, Op::kGetxattr},
      {"rename: flags ~0", [](wire::Slot *, wire::Request *r) { r->rename_flags = 0xffffffff; },
       Op::kRename},
      {"mkdir: mode ~0",
       [](wire::Slot *, wire::Request *r) {
         r->mode = 0xffffffff;
         r->path[0].path.len = 0;
       },
       Op::kMkdir},
  };
  for (const Case &k : odd) {
    int32_t rc = spoiled_stat(c, k.mutate, k.op);
    EXPECT_NE(rc, INT32_MIN) << k.what << ": no answer";
    EXPECT_TRUE(rc == fb || (rc <= 0 && rc > -4096) || k.op == Op::kReadlink ||
                k.op == Op::kGetxattr)
        << k.what << ": " << rc;
    EXPECT_LE(c.slot(0)->h.rep_len, wire::kSlotDataSize) << k.what;
  }
  EXPECT_EQ(spoiled_stat(c, nothing), 0) << "still serving after all that";
  EXPECT_TRUE(fs_->fs().daemon_alive());
}

// A multi-call request (wire::kBatch) built by hand: count in the header, then the calls.
struct BatchBuilder {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(sizeof(wire::BatchHeader));
  uint32_t count = 0;
  // A call of op on path; len_delta spoils its length.
  void add(Op op, const std::string &path, int64_t len_delta = 0) {
    wire::Request r{};
    r.path[0].path = {sizeof(r), static_cast<uint32_t>(path.size())};
    const size_t len = sizeof(r) + path.size() + 1;
    const wire::BatchCall call{static_cast<uint32_t>(op), static_cast<uint32_t>(len + len_delta)};
    const size_t at = bytes.size();
    bytes.resize(at + wire::batch_call_size(len));
    memcpy(&bytes[at], &call, sizeof(call));
    memcpy(&bytes[at + sizeof(call)], &r, sizeof(r));
    memcpy(&bytes[at + sizeof(call) + sizeof(r)], path.c_str(), path.size() + 1);
    count++;
  }
  // Posts it in slot 0 (header count: count_override if >= 0) and returns the slot's result;
  // the calls' results in *results.
  int32_t run(RawClient &c, std::vector<int32_t> *results, int64_t count_override = -1) {
    const wire::BatchHeader h{count_override >= 0 ? static_cast<uint32_t>(count_override) : count,
                              0};
    memcpy(bytes.data(), &h, sizeof(h));
    memset(c.slot(0)->data, 0, wire::kSlotDataSize);
    memcpy(c.slot(0)->data, bytes.data(), bytes.size());
    c.slot(0)->h.op = static_cast<uint32_t>(Op::kBatch);
    c.slot(0)->h.req_len = static_cast<uint32_t>(bytes.size());
    const int32_t rc = run_slot(c);
    results->clear();
    for (uint32_t i = 0; i < count; i++) {
      wire::BatchReply r;
      memcpy(&r, c.slot(0)->data + i * sizeof(r), sizeof(r));
      results->push_back(r.result);
    }
    return rc;
  }
};

// In a multi-call request the calls before a malformed one are served, that one and those
// after it are declined (the client makes them itself); a request of no calls or of more than
// wire::kBatchMax is declined whole; calls a batch cannot carry are declined.
TEST_F(Hostile, MalformedBatchesServeOnlyTheCallsBeforeTheFlaw) {
  RawClient c;
  ASSERT_EQ(c.connect(sock_), 0);
  ASSERT_EQ(c.status, wire::HelloStatus::kServed);
  const int32_t fb = wire::kFallback;
  std::vector<int32_t> r;
  {
    BatchBuilder b;
    b.add(Op::kStat, "f");
    b.add(Op::kStat, "missing");
    b.add(Op::kAccess, "f");
    EXPECT_EQ(b.run(c, &r), 0);
    EXPECT_EQ(r, (std::vector<int32_t>{0, -ENOENT, 0})) << "the well-formed control request";
  }
  struct Case {
    const char *what;
    std::function<void(BatchBuilder &)> build;
    std::vector<int32_t> want;
  };
  std::vector<Case> cases = {
      {"a call a batch cannot carry",
       [](BatchBuilder &b) {
         b.add(Op::kStat, "f");
         b.add(Op::kReadlink, "f");
         b.add(Op::kStat, "f");
       },
       {0, fb, fb}},
      {"a nested batch",
       [](BatchBuilder &b) {
         b.add(Op::kStat, "f");
         b.add(Op::kBatch, "f");
       },
       {0, fb}},
      {"a call longer than the request",
       [](BatchBuilder &b) {
         b.add(Op::kStat, "f");
         b.add(Op::kStat, "f", 100000);
         b.add(Op::kStat, "f");
       },
       {0, fb, fb}},
      {"a call too short for its request",
       [](BatchBuilder &b) {
         b.add(Op::kStat, "f", -8);
         b.add(Op::kStat, "f");
       },
       {fb, fb}},
      {"op ~0",
       [](BatchBuilder &b) {
         b.add(Op::kStat, "f");
         b.add(static_cast<Op>(0xffffffff), "f");
       },
       {0, fb}},
  };
  for (const Case &k : cases) {
    BatchBuilder b;
    k.build(b);
    EXPECT_EQ(b.run(c, &r), 0) << k.what;
    EXPECT_EQ(r, k.want) << k.what;
  }
  // Declined whole: no calls, more than the most, more than the request holds.
  BatchBuilder none;
  EXPECT_EQ(none.run(c, &r), fb) << "no calls";
  BatchBuilder many;
  many.add(Op::kStat, "f");
  EXPECT_EQ(many.run(c, &r, wire::kBatchMax + 1), fb) << "more than kBatchMax";
  std::vector<int32_t> over;
  BatchBuilder short_one;
  short_one.add(Op::kStat, "f");
  EXPECT_EQ(short_one.run(c, &over, 5), 0) << "more calls than the request holds";
  EXPECT_EQ(over, (std::vector<int32_t>{0}));
  EXPECT_EQ(c.slot(0)->h.rep_len, 5 * sizeof(wire::BatchReply));
  wire::BatchReply missing;
  memcpy(&missing, c.slot(0)->data + 4 * sizeof(missing), sizeof(missing));
  EXPECT_EQ(missing.result, fb) << "the calls the request did not hold";
  // Still served afterwards.
  BatchBuilder again;
  again.add(Op::kStat, "f");
  EXPECT_EQ(again.run(c, &r), 0);
  EXPECT_EQ(r, (std::vector<int32_t>{0}));
}

TEST_F(Hostile, RandomGarbageNeverCrashesTheServer) {
  RawClient c;
  ASSERT_EQ(c.connect(sock_), 0);
  ASSERT_EQ(c.status, wire::HelloStatus::kServed);
  std::mt19937_64 rng(4242);
  int answered = 0;
  for (int i = 0; i < 3000; i++) {
    uint32_t idx = static_cast<uint32_t>(rng() % wire::kSlotCount);
    wire::Slot *s = c.slot(idx);
    auto *words = reinterpret_cast<uint64_t *>(s->data);
    size_t n = 64 + rng() % 512;  // garbage request header and some strings
    for (size_t w = 0; w < n / 8; w++) words[w] = rng();
    // Mostly small offsets and lengths, so that some strings do decode.
    if (rng() % 2) {
      auto *r = reinterpret_cast<wire::Request *>(s->data);
      r->path[0].path = {static_cast<uint32_t>(sizeof(wire::Request) + rng() % 64),
                         static_cast<uint32_t>(rng() % 8)};
      s->data[r->path[0].path.off + r->path[0].path.len] = 0;
    }
    s->h.op = static_cast<uint32_t>(rng() % (wire::kOpCount + 2));
    s->h.req_len = rng() % 4 ? static_cast<uint32_t>(n) : static_cast<uint32_t>(rng());
    if (run_slot(c, idx) != INT32_MIN) answered++;
    ASSERT_LE(s->h.rep_len, wire::kSlotDataSize);
  }
  EXPECT_EQ(answered, 3000);
  EXPECT_TRUE(fs_->fs().daemon_alive()) << fs_->fs().daemon_stderr();
}

// Forks a hostile child that tells the parent through a pipe when it has done its harm:
// fork_hostile returns in both; the child calls say_ready(), the parent wait_ready().
int g_ready_fd = -1;  // the child's end

pid_t fork_hostile(int *parent_end) {
  int p[2];
  if (pipe(p) != 0) return -1;
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    g_ready_fd = p[1];
    return 0;
  }
  close(p[1]);
  *parent_end = p[0];
  return pid;
}

void say_ready() {
  char one = 1;
  if (write(g_ready_fd, &one, 1) != 1) _exit(9);
}

// True once the child said it is ready; false if it died first (its setup failed).
bool wait_ready(int parent_end) {
  char one;
  bool ok = read(parent_end, &one, 1) == 1;
  close(parent_end);
  return ok;
}

// What a hostile process does to its own region until it is killed.
// kFloodMissing: stats of a name that does not exist (every one asks the file system).
enum class Misbehaviour { kChaos, kFlood, kFloodMissing, kPostedNeverRead, kStopped };

// Two hundred levels: a walk that costs the server tens of microseconds per request.
const std::string kDeepPath = [] {
  std::string p = "deep";
  for (int i = 0; i < 200; i++) p += "/d";
  return p;
}();

// Keeps the server busy for good: threads re-post well-formed requests the moment they are
// answered, so that the server never runs out of work while the good client connects.
[[noreturn]] void flood(RawClient &c, const std::string &path) {
  constexpr uint32_t kThreads = 1;
  std::vector<std::thread> ts;
  for (uint32_t t = 0; t < kThreads; t++)
    ts.emplace_back([&c, &path, t] {
      for (uint64_t n = 0;; n++) {
        uint32_t i = t + kThreads * static_cast<uint32_t>(n % (wire::kSlotCount / kThreads));
        wire::Slot *s = c.slot(i);
        if (s->h.state.load() == wire::kPosted || s->h.state.load() == wire::kClaimed) continue;
        c.put_request(i, Op::kStat, wire::Request{}, path);  // the answer overwrote it
        s->h.state.store(wire::kPosted);
        wire::header_of(c.region)->pending.fetch_or(uint64_t{1} << i);
        uint64_t one = 1;  // a sleeping server is woken, as by any client
        if (wire::header_of(c.region)->server_idle.load() && write(c.efd, &one, 8) < 0) {
        }
      }
    });
  for (;;) pause();
}

[[noreturn]] void misbehave(const std::string &sock, Misbehaviour how) {
  // As nobody, like any local user (the mount has allow_other).
  if (syscall(SYS_setgroups, 0, nullptr) != 0 || syscall(SYS_setresgid, 65534, 65534, 65534) != 0 ||
      syscall(SYS_setresuid, 65534, 65534, 65534) != 0)
    _exit(2);
  RawClient c;
  if (c.connect(sock) != 0 || c.status != wire::HelloStatus::kServed) _exit(3);
  wire::Request r{};
  for (uint32_t i = 0; i < wire::kSlotCount; i++) {
    c.put_request(i, Op::kStat, r, "f");
    c.post(i);
  }
  say_ready();
  if (how == Misbehaviour::kStopped) raise(SIGSTOP);
  if (how == Misbehaviour::kFlood) flood(c, kDeepPath);
  if (how == Misbehaviour::kFloodMissing) flood(c, "missing");
  if (how != Misbehaviour::kChaos) {
    for (;;) pause();
  }
  std::atomic<bool> stop{false};
  // Torn requests: keep flipping bytes of slots 0..7 while they are posted and served.
  std::thread flipper([&] {
    std::mt19937 rng(7);
    while (!stop) {
      wire::Slot *s = c.slot(rng() % 8);
      s->data[rng() % 256] ^= static_cast<uint8_t>(rng());
      if (rng() % 16 == 0) s->h.req_len = static_cast<uint32_t>(rng());
      if (rng() % 16 == 0) s->h.op = static_cast<uint32_t>(rng() % 20);
    }
  });
  std::mt19937 rng(8);
  const uint32_t states[] = {wire::kPosted, wire::kPosted, wire::kClaimed, wire::kDone, 4,
                             0xffffffff};
  for (;;) {
    uint32_t i = rng() % wire::kSlotCount;
    wire::Slot *s = c.slot(i);
    if (i >= 8 && rng() % 2) {
      auto *w = reinterpret_cast<uint32_t *>(s->data);
      for (int k = 0; k < 64; k++) w[k] = rng();
    } else if (i >= 8) {
      c.put_request(i, Op::kStat, r, rng() % 2 ? "f" : "missing/deeper/still");
    }
    s->h.state.store(states[rng() % 6]);
    wire::header_of(c.region)->pending.store(~uint64_t{0});
    wire::header_of(c.region)->server_idle.store(rng() % 2);
    uint64_t one = 1;
    if (write(c.efd, &one, sizeof(one)) < 0) { /* full or closed: go on */
    }
  }
}

// Returns once the child has connected and posted every slot (-1 if it could not).
pid_t spawn_misbehaving(const std::string &sock, Misbehaviour how) {
  int ready;
  pid_t pid = fork_hostile(&ready);
  if (pid == 0) misbehave(sock, how);
  return wait_ready(ready) ? pid : -1;
}

void end_child(pid_t pid) {
  kill(pid, SIGKILL);
  kill(pid, SIGCONT);
  int status;
  waitpid(pid, &status, 0);
}

// The good client runs while hostile processes do their worst; every answer must be right,
// every call must still be served by the server (a stalled server makes them fall back), and
// the tree must be what the good client made.
// What the server says it did, summed over the operations (to tell, when the good client
// was not served, whether the server refused it or never heard from it).
std::string server_totals(const AttachedFs &fs) {
  control::Reply r{};
  if (fs.control(control::Op::kStats, &r) != 0) return "(no server stats)";
  uint64_t served = 0, fallback = 0;
  for (uint32_t i = 0; i < wire::kOpCount; i++) {
    served += r.stats.served[i];
    fallback += r.stats.fallback[i];
  }
  return "served " + std::to_string(served) + ", refused " + std::to_string(fallback) +
         ", clients " + std::to_string(r.stats.clients_active) + " active of " +
         std::to_string(r.stats.clients_total);
}

void expect_good_client_unharmed(AttachedFs &fs, const std::vector<pid_t> &hostile,
                                 int kRounds = 150) {
  std::string dir = fs.path("good");
  ASSERT_EQ(mkdir(dir.c_str(), 0777), 0);
  std::string before = server_totals(fs);
  int64_t start = now_ns();
  GoodRun g = run_good_client(dir, kRounds);
  int64_t took_ms = (now_ns() - start) / 1000000;
  std::string after = server_totals(fs);
  for (pid_t p : hostile) {
    int status;
    EXPECT_EQ(waitpid(p, &status, WNOHANG), 0) << "a hostile client failed to set up: " << status;
  }
  for (pid_t p : hostile) end_child(p);
  EXPECT_EQ(g.wrong, 0);
  EXPECT_EQ(g.bypassed, g.calls) << "calls that fell back (in " << took_ms << " ms; "
                                 << g.stalled_skipped << " skipped and " << g.stalled_waited
                                 << " withdrawn on a still beat); server before: " << before
                                 << "; after: " << after;
  EXPECT_TRUE(fs.fs().daemon_alive()) << fs.fs().daemon_stderr();
  EXPECT_EQ(list_dir(dir), expected_good_tree(kRounds));
}

TEST_F(Hostile, ChaosClientDoesNotHarmOthers) {
  pid_t h = spawn_misbehaving(sock_, Misbehaviour::kChaos);
  ASSERT_GT(h, 0);
  expect_good_client_unharmed(*fs_, {h});
}

// Pins every thread of process pid to the CPUs in set.
void pin_process(pid_t pid, const cpu_set_t &set) {
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d))
      if (e->d_name[0] != '.') sched_setaffinity(atoi(e->d_name), sizeof(set), &set);
    closedir(d);
  }
}

// A flooding client (kDeepPath made first). With two CPUs or more it gets one of its own, so
// that it never pauses for the server (as under a slow emulator, where this was first seen),
// and the server and this process share another; *restore gets this process's CPUs back.
pid_t spawn_pinned_flood(AttachedFs &fs, const std::string &sock, cpu_set_t *restore) {
  for (size_t at = kDeepPath.find('/'); at != std::string::npos; at = kDeepPath.find('/', at + 1))
    if (mkdir(fs.path(kDeepPath.substr(0, at)).c_str(), 0755) != 0) return -1;
  if (mkdir(fs.path(kDeepPath).c_str(), 0755) != 0) return -1;
  pid_t h = spawn_misbehaving(sock, Misbehaviour::kFlood);
  if (h < 0 || sched_getaffinity(0, sizeof(*restore), restore) != 0) return -1;
  int n = CPU_COUNT(restore);
  cpu_set_t first, last;
  CPU_ZERO(&first);
  CPU_ZERO(&last);
  for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE && seen < n; cpu++) {
    if (!CPU_ISSET(cpu, restore)) continue;
    if (seen == 0) CPU_SET(cpu, &first);
    if (++seen == n) CPU_SET(cpu, &last);
  }
  if (n >= 2) {
    pin_process(h, last);
    pin_process(fs.fs().daemon_pid(), first);
    pin_process(getpid(), first);
  }
  return h;
}

// The server has work at every turn: it must still answer a new client's hello in time.
TEST_F(Hostile, FloodingClientDoesNotKeepOthersOut) {
  cpu_set_t all;
  pid_t h = spawn_pinned_flood(*fs_, sock_, &all);
  ASSERT_GT(h, 0);
  expect_good_client_unharmed(*fs_, {h});
  pin_process(getpid(), all);
}

// ... nor hold up the unmount: the daemon leaves by itself, in time, while the flood goes on.
TEST_F(Hostile, FloodingClientDoesNotHoldUpTheUnmount) {
  cpu_set_t all;
  pid_t h = spawn_pinned_flood(*fs_, sock_, &all);
  ASSERT_GT(h, 0);
  int status = fs_->fs().stop();
  end_child(h);
  pin_process(getpid(), all);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the daemon had to be killed: status " << status;
}

// Storage that answers slowly (every lookup and getattr 5 ms longer), flooded: each request
// outlasts the watcher's two looks, so the lead changes hands at nearly every one. A client
// that connects meanwhile must still be taken in and served (first seen under a slow
// emulator, where a flood's 200-level walks took as long: no leader stayed long enough to
// look at its sockets, and the new client's calls all went to the kernel).
TEST(HostileSlowStorage, FloodWhoseCallsOutlastTheWatchDoesNotKeepANewClientOut) {
  MountOptions o = memfs_opts();
  o.env["LD_PRELOAD"] = fs_hook_lib();
  o.env["FINESSE_HOOK_SLOW_US"] = "5000";
  AttachedFs fs(o);
  std::string sock = server_socket_of(fs.mnt());
  ASSERT_FALSE(sock.empty());
  pid_t h = spawn_misbehaving(sock, Misbehaviour::kFloodMissing);
  ASSERT_GT(h, 0);
  expect_good_client_unharmed(fs, {h}, 20);
}

TEST_F(Hostile, ClientThatNeverReadsRepliesDoesNotHarmOthers) {
  std::vector<pid_t> hs;
  for (int i = 0; i < 4; i++)
    hs.push_back(spawn_misbehaving(sock_, Misbehaviour::kPostedNeverRead));
  for (pid_t h : hs) ASSERT_GT(h, 0);
  expect_good_client_unharmed(*fs_, hs);
}

TEST_F(Hostile, StoppedClientDoesNotHarmOthers) {
  pid_t h = spawn_misbehaving(sock_, Misbehaviour::kStopped);
  ASSERT_GT(h, 0);
  int status = 0;
  ASSERT_EQ(waitpid(h, &status, WUNTRACED), h);
  ASSERT_TRUE(WIFSTOPPED(status));
  expect_good_client_unharmed(*fs_, {h});
}

// A client that only connects (never says hello) and one that hangs up mid-handshake.
TEST_F(Hostile, SilentAndVanishingConnectionsDoNotHarmOthers) {
  std::vector<int> silent;
  for (int i = 0; i < 64; i++) {
    int s = unix_connect(sock_.c_str());
    ASSERT_GE(s, 0);
    silent.push_back(s);
  }
  for (int i = 0; i < 64; i++) {
    int s = unix_connect(sock_.c_str());
    ASSERT_GE(s, 0);
    uint32_t half = wire::kMagic;
    send(s, &half, sizeof(half), 0);  // a torn hello
    close(s);
  }
  expect_good_client_unharmed(*fs_, {});
  for (int s : silent) close(s);
}

// File descriptors pushed at the server with a message: the server drops them, and must not
// block doing so. A TCP socket with SO_LINGER whose peer never reads blocks its last close.
enum class FdPush { kWithHello, kAfterWelcomeThenHangUp };

// Returns once the child has sent the descriptor (-1 if it could not).
pid_t spawn_fd_pusher(const std::string &sock, FdPush how) {
  int ready;
  pid_t h = fork_hostile(&ready);
  if (h != 0) return wait_ready(ready) ? h : -1;
  int l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof(a);
  if (bind(l, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0 || listen(l, 1) != 0 ||
      getsockname(l, reinterpret_cast<sockaddr *>(&a), &al) != 0)
    _exit(2);
  int t = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (connect(t, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0 && errno != EINPROGRESS)
    _exit(3);
  usleep(100 * 1000);
  static char junk[65536];
  while (send(t, junk, sizeof(junk), MSG_NOSIGNAL) > 0) {
  }
  linger lg{1, 60};
  setsockopt(t, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  int u = unix_connect(sock.c_str());
  wire::Hello hello{wire::kMagic, wire::kVersion, wire::HelloKind::kClient, 0};
  if (how == FdPush::kWithHello) {
    if (u < 0 || send_msg(u, &hello, sizeof(hello), &t, 1) != 0) _exit(4);
  } else {
    wire::Welcome w{};
    int fds[2], nfds = 0;
    if (u < 0 || send_msg(u, &hello, sizeof(hello), nullptr, 0) != 0 ||
        recv_msg(u, &w, sizeof(w), fds, 2, &nfds) != sizeof(w))
      _exit(5);
    char one = 1;
    if (send_msg(u, &one, 1, &t, 1) != 0) _exit(6);
    close(u);
  }
  // Ready before our own close: if the server has already dropped its copy, ours is the last
  // one and lingers (up to 60 s, until the test kills us); the server's must never wait.
  say_ready();
  close(t);
  for (;;) pause();  // keeps the listener, so the connection stays half-open
}

TEST_F(Hostile, FdSentWithTheHelloDoesNotBlockTheServer) {
  pid_t h = spawn_fd_pusher(sock_, FdPush::kWithHello);
  ASSERT_GT(h, 0);
  expect_good_client_unharmed(*fs_, {h});
}

TEST_F(Hostile, FdSentAfterTheWelcomeDoesNotBlockTheServer) {
  pid_t h = spawn_fd_pusher(sock_, FdPush::kAfterWelcomeThenHangUp);
  ASSERT_GT(h, 0);
  expect_good_client_unharmed(*fs_, {h});
}

// One user holding every connection the server accepts (4096) would leave every other user
// to the kernel path: each user may hold at most 1024.
TEST_F(Hostile, OneUserCannotTakeEveryConnection) {
  int ready;
  pid_t h = fork_hostile(&ready);
  if (h == 0) {
    rlimit rl{8192, 8192};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || syscall(SYS_setresgid, 65534, 65534, 65534) != 0 ||
        syscall(SYS_setresuid, 65534, 65534, 65534) != 0)
      _exit(2);
    for (int i = 0; i < 4200; i++)
      if (unix_connect(sock_.c_str()) < 0) _exit(3);
    say_ready();
    for (;;) pause();
  }
  ASSERT_TRUE(wait_ready(ready));
  expect_good_client_unharmed(*fs_, {h});
}

// stat and setattr by node (wire::kByNode) name a node and an fd: the server answers only if that
// fd of the client's process refers to that very node. A node forged, taken from a file the client
// has no fd on, or paired with another fd or none gets FALLBACK: no attributes of a file the client
// could not stat leak that way.
TEST_F(Hostile, FstatByNodeNeedsAnFdOnThatNode) {
  ASSERT_EQ(mknod(fs_->path("g").c_str(), S_IFREG | 0600, 0), 0);
  int f = open(fs_->path("f").c_str(), O_RDONLY);
  ASSERT_GE(f, 0);
  uint64_t node_f = 0, node_g = 0, mnt = 0;
  ASSERT_TRUE(fuse_node_of(f, "", AT_EMPTY_PATH, &node_f, &mnt));
  int g = open(fs_->path("g").c_str(), O_RDONLY);
  ASSERT_GE(g, 0);
  ASSERT_TRUE(fuse_node_of(g, "", AT_EMPTY_PATH, &node_g, &mnt));
  close(g);  // the client keeps no fd on g
  int other = open("/dev/null", O_RDONLY);
  ASSERT_GE(other, 0);
  RawClient c;
  ASSERT_EQ(c.connect(sock_), 0);
  ASSERT_EQ(c.status, wire::HelloStatus::kServed);
  auto by_node = [&](uint64_t node, int fd) {
    return spoiled_stat(c, [&](wire::Slot *, wire::Request *r) {
      r->flags = wire::kByNode | wire::kNoFollow;
      r->node = node;
      r->fd = fd;
    });
  };
  EXPECT_EQ(by_node(node_f, f), 0) << "the client's own fd on the node";
  EXPECT_EQ(by_node(node_g, f), wire::kFallback) << "another node than the fd's";
  EXPECT_EQ(by_node(node_g, 999), wire::kFallback) << "an fd number not open";
  EXPECT_EQ(by_node(node_g, other), wire::kFallback) << "an fd on another file system";
  EXPECT_EQ(by_node(node_g, -1), wire::kFallback) << "no fd";
  for (uint64_t forged : {uint64_t{0}, uint64_t{1}, uint64_t{12345}, ~uint64_t{0}})
    EXPECT_EQ(by_node(forged, f), wire::kFallback) << "node " << forged;
  EXPECT_EQ(by_node(node_f, f), 0) << "still served";
  // A chmod by node likewise: of g through f's fd, nothing changes.
  int32_t rc = spoiled_stat(
      c,
      [&](wire::Slot *, wire::Request *r) {
        r->flags = wire::kByNode | wire::kNoFollow;
        r->node = node_g;
        r->fd = f;
        r->valid = wire::kSetMode;
        r->mode = 0777;
      },
      Op::kSetattr);
  EXPECT_EQ(rc, wire::kFallback);
  struct stat st;
  ASSERT_EQ(stat(fs_->path("g").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  close(f);
  close(other);
}

// Listings: the server judges read permission itself, for a listing by node too (an O_PATH
// fd names a node its opener may not read), and a listing number this connection was not
// given gets FALLBACK.
TEST_F(Hostile, ListingsNeedReadPermissionAndTheirOwnNumbers) {
  const std::string secret = fs_->path("secret");
  ASSERT_EQ(mkdir(secret.c_str(), 0700), 0);
  ASSERT_EQ(mknod((secret + "/hidden").c_str(), S_IFREG | 0600, 0), 0);
  const std::string sock = sock_;
  int rc = run_as([sock, secret] {
    int fd = open(secret.c_str(), O_PATH | O_DIRECTORY);
    if (fd < 0) return 10;
    uint64_t node = 0, mnt = 0;
    if (!fuse_node_of(fd, "", AT_EMPTY_PATH, &node, &mnt)) return 11;
    RawClient c;
    if (c.connect(sock) != 0 || c.status != wire::HelloStatus::kServed) return 12;
    int32_t r = spoiled_stat(
        c,
        [&](wire::Slot *, wire::Request *q) {
          q->flags = wire::kByNode | wire::kNoFollow;
          q->node = node;
          q->fd = fd;
        },
        Op::kReaddir);
    if (r != wire::kFallback) return 13;
    r = spoiled_stat(
        c, [](wire::Slot *, wire::Request *q) { q->stream = 12345; }, Op::kReaddir);
    if (r != wire::kFallback) return 14;
    wire::Request q{};
    c.put_request(0, Op::kReaddir, q, "secret", "", "");
    if (run_slot(c) != -EACCES) return 15;
    c.put_request(0, Op::kReaddir, q, "", "", "");  // the mount root: readable
    if (run_slot(c) != 0 || c.slot(0)->h.rep_len <= sizeof(wire::Reply)) return 16;
    close(fd);
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

// The control socket is the same socket: its root-only operations (detach every client,
// flush the lookup cache) must be refused to anyone else, and change nothing.
TEST_F(Hostile, ControlOpsOtherThanQueriesNeedRoot) {
  std::string dir = fs_->path("pre");
  ASSERT_EQ(finesse_mkdir(dir.c_str(), 0755), 0);
  ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
  uint64_t active_before = fs_->stats().clients_active;
  std::string sock = sock_;
  int rc = run_as([sock] {
    int fd = loader::control_connect(sock.c_str());
    if (fd < 0) return 10;
    control::Reply r{};
    if (loader::control_call(fd, control::Op::kDetach, nullptr, &r) != -EPERM) return 11;
    if (loader::control_call(fd, control::Op::kFlush, nullptr, &r) != -EPERM) return 12;
    if (loader::control_call(fd, static_cast<control::Op>(0xffff), nullptr, &r) != -EPERM)
      return 13;
    close(fd);
    return 0;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(fs_->stats().clients_active, active_before) << "someone's clients were dropped";
  struct stat st;
  EXPECT_EQ(finesse_stat(dir.c_str(), &st), 0);
  EXPECT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS) << "our connection was dropped";
}

// A user who owns a directory in a passthrough source can mount a FUSE file system of their
// own there and never answer it (a backing store that stopped). A bypass request that walks
// into it blocks the serving thread that took it in the file system's lookup (the kernel path
// blocks the callers of that directory only). The set-up: a passthrough mount, a directory
// "good" known to this process's connection, and the trap: a memfs mounted at the source's
// "trap" and stopped, with a walker process (forked) stuck in a stat of trap/x.
class StuckSource {
 public:
  explicit StuckSource(MountOptions o) : fs_(std::move(o)) {}

  // Call inside the test (assertions). Returns once the walker was forked.
  void spring() {
    ASSERT_EQ(mkdir(dir().c_str(), 0777), 0);
    struct stat st;
    ASSERT_EQ(finesse_stat(dir().c_str(), &st), 0);  // connected before the trap is sprung
    ASSERT_EQ(finesse_last_route(), FINESSE_ROUTE_BYPASS);
    std::string trap = fs_.fs().source() + "/trap";
    ASSERT_EQ(mkdir(trap.c_str(), 0777), 0);
    MountOptions t;
    t.fs = FsKind::kMemfs;
    t.mountpoint = trap;
    stuck_ = std::make_unique<MountedFs>(t);
    ASSERT_EQ(kill(stuck_->daemon_pid(), SIGSTOP), 0);
    ASSERT_EQ(pipe2(said_, O_CLOEXEC), 0);
    fflush(nullptr);
    walker_ = fork();
    if (walker_ == 0) {
      int rc = finesse_stat(fs_.path("trap/x").c_str(), &st);  // blocks until the daemon runs again
      int err = errno;
      int route = finesse_last_route();
      char line[96];
      int n = snprintf(line, sizeof line, "stat rc %d errno %d route %d", rc, rc ? err : 0, route);
      (void)!write(said_[1], line, static_cast<size_t>(n));
      _exit(route == FINESSE_ROUTE_BYPASS ? 0 : 1);
    }
    close(said_[1]);
    said_[1] = -1;
  }
  // Whether the walker is still inside its stat (if not, what() says how it ended).
  bool walker_stuck() {
    if (walker_ <= 0) return false;
    if (waitpid(walker_, &status_, WNOHANG) == 0) return true;
    walker_ = -1;
    return false;
  }
  // Lets the trap's daemon run again and reaps the walker: whether the walker's call was the
  // bypass's (the request that held a serving thread).
  bool release() {
    if (stuck_) kill(stuck_->daemon_pid(), SIGCONT);
    if (walker_ > 0) {
      EXPECT_EQ(waitpid(walker_, &status_, 0), walker_);
    }
    walker_ = -1;
    return WIFEXITED(status_) && WEXITSTATUS(status_) == 0;
  }
  // How the walker ended: its exit status and what its stat returned.
  std::string what() {
    char line[96] = {};
    if (said_[0] >= 0 && read(said_[0], line, sizeof line - 1) > 0) said_text_ = line;
    return "walker status " + std::to_string(status_) + ": " + said_text_;
  }
  ~StuckSource() {
    release();
    for (int fd : said_)
      if (fd >= 0) close(fd);
  }

  std::string dir() const { return fs_.path("good"); }
  AttachedFs &fs() { return fs_; }

 private:
  AttachedFs fs_;
  std::unique_ptr<MountedFs> stuck_;
  pid_t walker_ = -1;
  int status_ = -1;
  int said_[2] = {-1, -1};  // the walker's account of its stat
  std::string said_text_;
};

// The slowest a call may be while another client's call is stuck: 50 ms. Under emulation
// (the VM tests under TCG set FINESSE_TEST_EMULATED) calls are many times slower and an
// outlier of 150 ms was seen; there the bound is FINESSE_SERVER_STUCK_MS (250), the wait
// after which a call held up by the stuck one would have given up (which the route and stall
// counters catch anyway).
int64_t latency_bound_ns() {
  return (emulated() ? 250 : 50) * 1000000LL;
}

// A process that connects only after the trap was sprung: runs kCalls stats of dir and
// exits 0 if they went as `expect` says (1: a wrong answer; 2: not as expected; 3: waited for
// the stuck server more than once; 4: a call took latency_bound_ns() or more).
enum class LateExpect { kBypass, kKernel };
int run_late_client(const std::string &dir, LateExpect expect) {
  fflush(nullptr);
  pid_t late = fork();
  if (late == 0) {
    constexpr int kCalls = 5;
    finesse_client_stats inherited{}, cs{};  // the counters came along with the fork
    finesse_get_client_stats(&inherited);
    int bypassed = 0;
    int64_t slowest = 0;
    struct stat st;
    for (int i = 0; i < kCalls; i++) {
      int64_t t = now_ns();
      if (finesse_stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) _exit(1);
      slowest = std::max(slowest, now_ns() - t);
      bypassed += finesse_last_route() == FINESSE_ROUTE_BYPASS;
    }
    finesse_get_client_stats(&cs);
    unsigned long long waits = cs.stalled_waited - inherited.stalled_waited;
    unsigned long long skips = cs.stalled_skipped - inherited.stalled_skipped;
    if (expect == LateExpect::kKernel) {
      if (waits > 1) _exit(3);
      _exit(skips + waits == kCalls ? 0 : 2);
    }
    if (slowest >= latency_bound_ns()) _exit(4);
    _exit(bypassed == kCalls && skips + waits == 0 ? 0 : 2);
  }
  int status = -1;
  if (waitpid(late, &status, 0) != late) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + status;
}

// Once the hung call returned, calls are served again.
bool served_again(const std::string &dir) {
  struct stat st;
  for (int i = 0; i < 200; i++) {
    if (finesse_stat(dir.c_str(), &st) == 0 && finesse_last_route() == FINESSE_ROUTE_BYPASS)
      return true;
    usleep(10 * 1000);
  }
  return false;
}

// The serving pool: the stuck call holds only its own thread. The leader inside it loses the
// lead to a helper within milliseconds; every other client, this one and one that connects
// during the stall, keeps being served by the bypass, no call taking 50 ms.
TEST(HostileSource, StuckFileSystemCallHoldsOnlyItsOwnRequest) {
  MountOptions o = memfs_opts();
  o.fs = FsKind::kPassthrough;
  StuckSource s(o);
  ASSERT_NO_FATAL_FAILURE(s.spring());
  // From the fork on: the walker's request is taken at some point in here, and a stat of
  // this process's waits for no more than the takeover.
  GoodRun probe = run_stat_probe(s.dir(), 300);
  GoodRun g = run_good_client(s.dir(), 30);
  int late = run_late_client(s.dir(), LateExpect::kBypass);
  EXPECT_EQ(late, 0) << "a client that connected during the stall (1 wrong answer, 2 not "
                        "served by the bypass, 4 a call took 50 ms or more)";
  const bool stuck = s.walker_stuck();
  const bool bypassed = s.release();
  EXPECT_TRUE(stuck) << "the walker's stat returned: no stuck call (" << s.what() << ")";
  EXPECT_TRUE(bypassed) << "the walker's stat was not the bypass's (" << s.what() << ")";
  EXPECT_EQ(probe.wrong, 0);
  EXPECT_EQ(probe.bypassed, probe.calls) << "stats sent to the kernel while the walker was stuck";
  EXPECT_LT(probe.slowest_ns, latency_bound_ns()) << "a stat waited for the stuck call";
  EXPECT_EQ(g.wrong, 0);
  EXPECT_EQ(g.bypassed, g.calls) << "calls sent to the kernel while the walker was stuck";
  EXPECT_LT(g.slowest_ns, latency_bound_ns()) << "a call waited for the stuck call";
  EXPECT_EQ(g.stalled_skipped, 0u);
  EXPECT_EQ(g.stalled_waited, 0u);
  EXPECT_EQ(list_dir(s.dir()), expected_good_tree(30));
  EXPECT_TRUE(served_again(s.dir())) << "not served 2 s after the hung call returned";
}

// One serving thread (FINESSE_SERVER_THREADS=1): nobody can take over, the server's beat
// stops, and the other clients use the kernel until it moves again (at most the first call
// waits, FINESSE_SERVER_STUCK_MS); new clients are welcomed meanwhile.
TEST(HostileSource, StuckCallOfTheOnlyServingThreadSendsOthersToTheKernel) {
  MountOptions o = memfs_opts();
  o.fs = FsKind::kPassthrough;
  o.env["FINESSE_SERVER_THREADS"] = "1";
  StuckSource s(o);
  ASSERT_NO_FATAL_FAILURE(s.spring());
  usleep(300 * 1000);  // the walker's request is taken, the server is inside the lookup
  GoodRun g = run_good_client(s.dir(), 3);
  // A process that connects only now is welcomed all the same (the front door is not the
  // stuck thread), and does the same: the kernel at once, after at most one wait.
  int late = run_late_client(s.dir(), LateExpect::kKernel);
  EXPECT_EQ(late, 0) << "a client that connected during the stall (1 wrong answer, 2 not "
                        "welcomed, 3 waited more than once)";
  const bool stuck = s.walker_stuck();
  const bool bypassed = s.release();
  EXPECT_TRUE(stuck) << "the walker's stat returned: no stuck call (" << s.what() << ")";
  EXPECT_TRUE(bypassed) << "the walker's stat was not the bypass's (" << s.what() << ")";
  EXPECT_EQ(g.wrong, 0);
  EXPECT_EQ(list_dir(s.dir()), expected_good_tree(3));
  EXPECT_EQ(g.bypassed, 0) << "served while the server was inside the hung call?";
  EXPECT_LE(g.stalled_waited, 1u) << "calls that waited for the stuck server";
  EXPECT_EQ(g.stalled_skipped + g.stalled_waited, static_cast<unsigned long long>(g.calls))
      << "calls that went to the kernel for another reason";
  EXPECT_TRUE(served_again(s.dir())) << "not served 2 s after the hung call returned";
}

}  // namespace
}  // namespace finesse::testing
