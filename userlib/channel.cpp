#include "channel.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>

#include "absent_xattrs.h"
#include "clock.h"
#include "futex.h"
#include "read_route.h"
#include "tuning.h"
#include "unix_socket.h"

namespace finesse::client {

namespace {

// kGreeting: hello sent, the server's welcome not read yet (start_handshake).
enum ConnState : int {
  kDisconnected = 0,
  kBusy = 1,
  kConnected = 2,
  kNotServed = 3,
  kGreeting = 4
};

struct Conn {
  std::atomic<uint64_t> mnt_id{0};  // 0: free table entry
  std::atomic<int> state{kDisconnected};
  std::atomic<int> users{0};
  std::atomic<uint64_t> slots{0};  // bitmap of slots in use by this process's threads
  std::atomic<bool> broken{false};  // the server died: reconnect before the next request
  // The server's beat word as last seen changing, and when (our clock: the server's may be
  // another time namespace's): see server_stalled().
  std::atomic<uint32_t> seen_beat{0};
  std::atomic<int64_t> seen_beat_ns{0};
  int sock = -1;
  int efd = -1;
  void *region = nullptr;
  uint64_t cred_gen = 0;
  uint32_t server_pid = 0;     // whose server this state is about (mount ids are reused)
  int64_t retry_after_ns = 0;  // after "not served" or a failed connect
  KernelFacts facts{};
  // 0: facts' statfs part not fetched yet, 1: being written, 2: known (statfs_facts).
  std::atomic<int> statfs_known{0};
  // The server said the kernel holds this mount's attributes with a timeout
  // (wire::kHintKernelCachesAttrs); reset with each new connection.
  std::atomic<bool> kernel_caches_attrs{false};
  ReadRoutes read_routes;  // on such a mount, what each route of a read-only call costs
  std::atomic<int64_t> kicked_ns{0};     // when a call last woke the sleeping server (kick())
  std::atomic<int64_t> idle_read_ns{0};  // when a read last found the server asleep
  // Calls of this process on the mount before its first handshake (see acquire()).
  std::atomic<uint32_t> calls_before_hello{0};
  uint64_t serial = 0;  // of the connection made last (g_conn_serial)
  // kXattr* bits of the names this process has read through the bypass: its listings ask
  // the server which of its entries have none of them, kept in `absent`.
  std::atomic<uint32_t> xattrs_asked{0};
  std::atomic<uint32_t> fruitless_listings{0};  // in a row, whose entries all had them
  // Listings ask for the entries' attributes (kept in `absent`: the stats after a listing are
  // answered from them) while this is above 0: set when a stat of a name in the directory
  // listed last had to ask the server, lowered by each listing whose attributes answered
  // nothing (a program that lists without stat'ing pays nothing for them).
  std::atomic<int> attr_credit{0};
  AbsentXattrs absent;
};

Conn g_conns[FINESSE_MAX_MOUNTS];
std::atomic<uint64_t> g_cred_gen{1};
std::atomic<uint64_t> g_conn_serial{0};  // connections made by this process (Conn::serial)
// Listings that found every entry with the xattrs asked for (a file system that labels every
// file): after this many in a row, a connection's listings stop asking.
constexpr uint32_t kFruitlessListings = 2;
// Listings in a row whose attributes answered nothing before a connection's listings stop
// asking for them (Conn::attr_credit).
constexpr int kAttrCredit = 2;
std::atomic<int> g_umask{-1};
pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;
// Threads of this process spinning for an answer right now. Past tuning().client_spinners a
// waiter sleeps at once: many spinning threads on few CPUs starve the one server thread
// (measured: 4 deleting threads on 2 CPUs ran at a third of one thread's rate).
std::atomic<int64_t> g_spinners{0};
// Calls sent to the kernel because the server was stuck in a file system call: at once, or
// withdrawn after waiting for it.
std::atomic<unsigned long long> g_stalled_skips{0}, g_stalled_waits{0};
std::atomic<pid_t> g_owner{0};  // our pid (see channel_in_owner_process)
// Stat answers of any mount with and without wire::kHintKernelCachesAttrs: while only the
// former were seen, fstat goes to the kernel before its fd is even looked up.
std::atomic<bool> g_seen_cached{false}, g_seen_uncached{false};
std::atomic<bool> g_ever_connected{false};

// Sets a flag that only ever goes from false to true, writing its cache line (shared by every
// thread's calls) only the first time.
void raise_flag(std::atomic<bool> &f) {
  if (!f.load(std::memory_order_relaxed)) f.store(true, std::memory_order_relaxed);
}
// channel_defer_first_handshake(): a process's first call on a mount does not talk to the
// server at all, its second starts the handshake without waiting for it.
std::atomic<bool> g_defer_first{false};

// What this thread's call in progress holds, for channel_recover_abandoned().
struct InFlight {
  void *conn;     // Conn *: a reference taken (acquire)
  void *busy;     // Conn *: held kBusy while connecting
  int slot;       // taken slot, or -1
  bool spinning;  // counted in g_spinners
  int cancel_state;
};
thread_local InFlight t_call
    __attribute__((tls_model("initial-exec"))) = {nullptr, nullptr, -1, false, 0};

// System calls without libc's cancellation points: a thread cancelled inside a call would
// leave what it holds held.
long sys_write(int fd, const void *p, size_t n) {
  return syscall(SYS_write, fd, p, n);
}
long sys_close(int fd) {
  return syscall(SYS_close, fd);
}

int read_umask_from_proc() {
  int fd =
      static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC, 0));
  if (fd < 0) return 022;
  char buf[256];  // "Umask:" is the second line
  ssize_t n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
  sys_close(fd);
  if (n <= 0) return 022;
  buf[n] = '\0';
  const char *p = strstr(buf, "Umask:");
  if (p == nullptr) return 022;
  return static_cast<int>(strtol(p + 6, nullptr, 8)) & 0777;
}

void release_resources(Conn &c) {
  if (c.region != nullptr) munmap(c.region, wire::kRegionSize);
  if (c.sock >= 0) sys_close(c.sock);
  if (c.efd >= 0) sys_close(c.efd);
  c.region = nullptr;
  c.sock = c.efd = -1;
  c.slots.store(0);
  c.broken.store(false);
}

// In a forked child the parent's connections must not be used (the slots are shared with
// the parent): drop them; the child connects anew with its own credentials.
void atfork_child() {
  channel_set_owner_process();
  t_call = InFlight{nullptr, nullptr, -1, false, 0};
  g_spinners.store(0);  // the threads that were spinning are not in the child
  for (Conn &c : g_conns) {
    if (c.mnt_id.load() == 0) continue;
    release_resources(c);
    c.users.store(0);
    c.state.store(kDisconnected);
    c.retry_after_ns = 0;
  }
}

// Gives c, idle, to mount mnt_id: its old mount is gone or unused (mount ids come and go
// for the life of the process, the table has FINESSE_MAX_MOUNTS entries). False if c is in
// use. Its users check the mount id again once they hold it (acquire).
bool recycle(Conn &c, uint64_t old_id, uint64_t mnt_id) {
  int s = c.state.load(std::memory_order_acquire);
  if (s == kBusy || !c.state.compare_exchange_strong(s, kBusy)) return false;
  if (c.users.load(std::memory_order_seq_cst) != 0 ||
      !c.mnt_id.compare_exchange_strong(old_id, mnt_id)) {
    c.state.store(s, std::memory_order_release);
    return false;
  }
  release_resources(c);
  c.retry_after_ns = 0;
  c.server_pid = 0;
  c.calls_before_hello.store(0);
  c.state.store(kDisconnected, std::memory_order_release);
  return true;
}

// The entry of mnt_id, if it has one.
Conn *conn_of(uint64_t mnt_id) {
  for (Conn &c : g_conns)
    if (c.mnt_id.load(std::memory_order_acquire) == mnt_id) return &c;
  return nullptr;
}

// The entry of mnt_id, given one if it has none.
Conn *find_conn(uint64_t mnt_id) {
  if (Conn *c = conn_of(mnt_id)) return c;
  for (Conn &c : g_conns) {
    uint64_t zero = 0;
    if (c.mnt_id.compare_exchange_strong(zero, mnt_id)) return &c;
    if (zero == mnt_id) return &c;
  }
  // Full: take an entry that is not connected (or whose server died), else any idle one.
  for (int pass = 0; pass < 2; pass++) {
    for (Conn &c : g_conns) {
      uint64_t id = c.mnt_id.load(std::memory_order_acquire);
      if (id == mnt_id) return &c;
      int s = c.state.load(std::memory_order_acquire);
      bool dead = s == kDisconnected || s == kNotServed || c.broken.load();
      if ((pass == 1 || dead) && recycle(c, id, mnt_id)) return &c;
    }
  }
  return nullptr;
}

long raw_statx(const char *path, int flags, unsigned mask, struct statx *stx) {
  return syscall(SYS_statx, AT_FDCWD, path, flags, mask, stx);
}

// The facts a stat answer needs. AT_STATX_DONT_SYNC: the mount root's device, inode and
// mount id are the kernel's own; without it an expired root attribute costs a FUSE round
// trip to the daemon in every handshake.
bool load_facts(const MountMatch &m, KernelFacts *f) {
  struct statx stx;
  if (raw_statx(m.mount_path, AT_STATX_DONT_SYNC, STATX_BASIC_STATS | STATX_MNT_ID, &stx) != 0)
    return false;
  if (!(stx.stx_mask & STATX_MNT_ID) || stx.stx_mnt_id != m.mnt_id) return false;
  f->st_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
  f->stx_dev_major = stx.stx_dev_major;
  f->stx_dev_minor = stx.stx_dev_minor;
  f->stx_mnt_id = stx.stx_mnt_id;
  f->stx_attributes_mask = stx.stx_attributes_mask;
  f->stx_mask = stx.stx_mask;
  f->root_ino = stx.stx_ino;
  return true;
}

// The facts a statfs answer needs, fetched on the first statfs of a connection only: a statfs
// of a FUSE mount always asks the daemon (a round trip no other call should pay).
bool statfs_facts(Conn &c, const MountMatch &m, KernelFacts *f) {
  if (c.statfs_known.load(std::memory_order_acquire) == 2) {
    f->f_fsid = c.facts.f_fsid;
    f->f_flags = c.facts.f_flags;
    f->f_type = c.facts.f_type;
    return true;
  }
  struct statfs sfs;
  if (syscall(SYS_statfs, m.mount_path, &sfs) != 0) return false;
  f->f_fsid = sfs.f_fsid;
  f->f_flags = sfs.f_flags;
  f->f_type = sfs.f_type;
  int expected = 0;
  if (c.statfs_known.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
    c.facts.f_fsid = sfs.f_fsid;
    c.facts.f_flags = sfs.f_flags;
    c.facts.f_type = sfs.f_type;
    c.statfs_known.store(2, std::memory_order_release);
  }
  return true;
}

// Waits (bounded) until no thread uses c, held kBusy by us. False: a reference is still
// taken, by a call that is slow or by a thread that left one behind (siglongjmp, and then no
// call of that thread since: see channel_recover_abandoned): never wait for it forever.
bool drained(Conn &c) {
  int64_t give_up = now_ns() + int64_t{100} * 1000000;
  while (c.users.load(std::memory_order_acquire) != 0) {
    if (now_ns() > give_up) return false;
    sched_yield();
  }
  return true;
}

void register_atfork() {
  pthread_once(&g_atfork_once, [] { pthread_atfork(nullptr, nullptr, atfork_child); });
}

// At load: who we are, before any call (a fork child learns it in atfork_child).
__attribute__((constructor)) void channel_init() {
  channel_set_owner_process();
  register_atfork();
}

// The first half of a handshake with c's server (c held kBusy by this thread): connects and
// says hello; the server answers in its own time. Returns kGreeting (c.sock set) or
// kDisconnected.
int start_handshake(Conn &c, const MountMatch &m) {
  register_atfork();
  int sock = unix_connect(m.socket_path);
  if (sock < 0) return kDisconnected;
  pid_t peer = -1;
  // Never wait long for a server that does not answer.
  int64_t wait_ms = tuning().handshake_wait_ms > 0 ? tuning().handshake_wait_ms : 1000;
  timeval tv{static_cast<time_t>(wait_ms / 1000), static_cast<suseconds_t>(wait_ms % 1000 * 1000)};
  setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  wire::Hello h{wire::kMagic, wire::kVersion, wire::HelloKind::kClient, 0};
  if (peer_pid(sock, &peer) < 0 || static_cast<uint32_t>(peer) != m.server_pid ||
      send_msg(sock, &h, sizeof(h), nullptr, 0) < 0) {
    close(sock);
    return kDisconnected;
  }
  c.sock = sock;
  return kGreeting;
}

// The second half (c in kGreeting, held kBusy by this thread): waits for the welcome, maps
// the region. Returns the new state.
int finish_handshake(Conn &c, const MountMatch &m) {
  int sock = c.sock;
  c.sock = -1;
  wire::Welcome w{};
  int fds[2] = {-1, -1};
  int nfds = 0;
  if (recv_msg(sock, &w, sizeof(w), fds, 2, &nfds) != static_cast<ssize_t>(sizeof(w)) ||
      w.magic != wire::kMagic || w.version != wire::kVersion) {
    for (int i = 0; i < nfds; i++) close(fds[i]);
    close(sock);
    return kDisconnected;
  }
  if (w.status != wire::HelloStatus::kServed || nfds != 2 || w.region_size != wire::kRegionSize) {
    for (int i = 0; i < nfds; i++) close(fds[i]);
    close(sock);
    return kNotServed;
  }
  void *region = mmap(nullptr, wire::kRegionSize, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
  close(fds[0]);
  KernelFacts facts{};
  if (region == MAP_FAILED || wire::header_of(region)->magic != wire::kMagic ||
      !load_facts(m, &facts)) {
    if (region != MAP_FAILED) munmap(region, wire::kRegionSize);
    close(fds[1]);
    close(sock);
    return kDisconnected;
  }
  c.sock = sock;
  c.efd = fds[1];
  c.region = region;
  c.seen_beat.store(wire::header_of(region)->beat.load(std::memory_order_relaxed));
  c.seen_beat_ns.store(coarse_now_ns());
  c.facts = facts;
  c.statfs_known.store(0, std::memory_order_relaxed);
  // (Not caching yet says little: a mount the kernel has asked nothing yet. Stat answers
  // tell the rest.)
  bool cached = w.hints & wire::kHintKernelCachesAttrs;
  c.kernel_caches_attrs.store(cached, std::memory_order_relaxed);
  if (cached) raise_flag(g_seen_cached);
  c.read_routes.reset();
  c.slots.store(0);
  c.serial = g_conn_serial.fetch_add(1, std::memory_order_relaxed) + 1;
  raise_flag(g_ever_connected);
  return kConnected;
}

// Takes a reference on c if it is connected, current (credentials, server) and for m.
bool acquire_connected(Conn &c, const MountMatch &m, uint64_t cred_gen) {
  c.users.fetch_add(1, std::memory_order_acq_rel);
  // (The entry may have been given to another mount meanwhile: find_conn.)
  if (c.state.load(std::memory_order_acquire) == kConnected && c.cred_gen == cred_gen &&
      c.mnt_id.load(std::memory_order_acquire) == m.mnt_id && c.server_pid == m.server_pid &&
      !c.broken.load(std::memory_order_acquire) &&
      !wire::header_of(c.region)->closed.load(std::memory_order_acquire)) {
    t_call.conn = &c;
    return true;
  }
  c.users.fetch_sub(1, std::memory_order_acq_rel);
  return false;
}

// Takes a reference on a connected Conn, connecting first if needed. False: use the kernel.
bool acquire(Conn &c, const MountMatch &m) {
  uint64_t gen = g_cred_gen.load(std::memory_order_acquire);
  // At most: tear down a stale connection, connect, take the reference.
  for (int attempt = 0; attempt < 3; attempt++) {
    int s = c.state.load(std::memory_order_acquire);
    if (s == kConnected) {
      if (acquire_connected(c, m, gen)) return true;
      // Stale: credentials changed or the server closed us. Tear down, then reconnect.
      // Not before the backoff of an earlier attempt that found users that did not leave.
      if (c.retry_after_ns > now_ns()) return false;
      int expected = kConnected;
      if (!c.state.compare_exchange_strong(expected, kBusy)) return false;
      // Signals blocked: a siglongjmp out of the wait would leave the entry busy for good.
      sigset_t all, old_mask;
      sigfillset(&all);
      pthread_sigmask(SIG_BLOCK, &all, &old_mask);
      bool ok = drained(c);
      if (ok) release_resources(c);
      c.retry_after_ns = ok ? 0 : now_ns() + int64_t{1000} * 1000000;
      c.state.store(ok ? kDisconnected : kConnected, std::memory_order_release);
      pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
      if (!ok) return false;
      continue;
    }
    if (s == kBusy) return false;  // another thread is (re)connecting: kernel path meanwhile
    // A process's first call on the mount costs it nothing more than the kernel path: a
    // process that makes one call (a shell's `test -e`, `mv`) would pay for a handshake, and
    // for the server's work on it on a CPU it shares, and never use it.
    bool fresh =
        s == kDisconnected && c.server_pid == 0 && g_defer_first.load(std::memory_order_relaxed);
    if (fresh && c.calls_before_hello.fetch_add(1, std::memory_order_relaxed) == 0) return false;
    if ((s == kNotServed || s == kDisconnected) && c.retry_after_ns > now_ns() &&
        c.cred_gen == gen && c.server_pid == m.server_pid)
      return false;
    int expected = s;
    if (!c.state.compare_exchange_strong(expected, kBusy)) return false;
    if (c.mnt_id.load(std::memory_order_acquire) != m.mnt_id) {  // given to another mount
      c.state.store(s, std::memory_order_release);
      return false;
    }
    // No cancellation point (there are some in the handshake) may end this thread while the
    // entry is kBusy, and no signal handler may siglongjmp out of it: what the handshake
    // opened would leak, and hold a client place in the server. (Blocked at most for the
    // handshake's 1 s timeout; pthread_sigmask leaves glibc's own signals alone.) Should a
    // siglongjmp still happen, channel_recover_abandoned() frees the entry.
    t_call.busy = &c;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &t_call.cancel_state);
    sigset_t all, old_mask;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old_mask);
    int ns;
    if (s == kGreeting && c.cred_gen == gen && c.server_pid == m.server_pid) {
      ns = finish_handshake(c, m);
    } else {
      if (s == kGreeting) release_resources(c);  // hello said with other credentials
      // The second call of this process on the mount (c.server_pid not set since the start
      // or a recycle): the server answers while the kernel serves this call.
      ns = start_handshake(c, m);
      if (ns == kGreeting && !fresh) ns = finish_handshake(c, m);
    }
    c.cred_gen = gen;
    c.server_pid = m.server_pid;
    c.retry_after_ns = ns != kConnected && ns != kGreeting ? now_ns() + int64_t{1000} * 1000000 : 0;
    c.state.store(ns, std::memory_order_release);
    t_call.busy = nullptr;
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    pthread_setcancelstate(t_call.cancel_state, nullptr);
    if (ns != kConnected) return false;
  }
  return false;
}

// (t_call is cleared first: a siglongjmp in between leaks a reference, which drained()
// does not wait for forever, rather than giving it back twice.)
void release(Conn &c) {
  t_call.conn = nullptr;
  c.users.fetch_sub(1, std::memory_order_acq_rel);
}

int take_slot(Conn &c) {
  uint64_t used = c.slots.load(std::memory_order_relaxed);
  for (;;) {
    if (~used == 0) return -1;
    int i = __builtin_ctzll(~used);
    if (c.slots.compare_exchange_weak(used, used | (uint64_t{1} << i), std::memory_order_acquire))
      return t_call.slot = i;
  }
}

void put_slot(Conn &c, int i) {
  t_call.slot = -1;
  c.slots.fetch_and(~(uint64_t{1} << i), std::memory_order_release);
}

bool server_gone(Conn &c) {
  if (wire::header_of(c.region)->closed.load(std::memory_order_acquire)) return true;
  pollfd p{c.sock, POLLIN | POLLRDHUP, 0};
  timespec zero{0, 0};  // ppoll, not poll(): no cancellation point
  return syscall(SYS_ppoll, &p, 1, &zero, nullptr, 0) > 0 &&
         (p.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

// Whether the server is awake but has not moved its beat for tuning().server_stuck_ns: it is
// inside a file system call that does not return (a hung FUSE mount under a passthrough
// source, say), and every request would wait behind it.
bool server_stalled(Conn &c) {
  const wire::RegionHeader *h = wire::header_of(c.region);
  if (h->server_idle.load(std::memory_order_acquire)) return false;  // asleep: a kick wakes it
  uint32_t beat = h->beat.load(std::memory_order_acquire);
  int64_t now = coarse_now_ns();  // (against FINESSE_SERVER_STUCK_MS: 250 ms)
  if (beat != c.seen_beat.load(std::memory_order_relaxed)) {
    c.seen_beat.store(beat, std::memory_order_relaxed);
    c.seen_beat_ns.store(now, std::memory_order_relaxed);
    return false;
  }
  return now - c.seen_beat_ns.load(std::memory_order_relaxed) > tuning().server_stuck_ns;
}

// What a listing's answers were of (AbsentXattrs::Through): the directory the server found,
// and the cwd it checked when the path was relative to it.
AbsentXattrs::Through listed_through(const wire::Request &req, const wire::Reply &rep) {
  return {rep.attr.ino, (req.flags & wire::kCwdBase0) ? req.path[0].verify_ino : 0};
}

// Reads closer together than this are a run worth waking the server for (channel_call).
constexpr int64_t kReadRunNs = 1000 * 1000;

// Wakes c's sleeping server. A call that only wants it awake for later calls kicks once per
// wake-up (calls in the 60-80 us it takes to come up find it still flagged idle); one with a
// request posted always does.
void kick(Conn &c, bool for_request) {
  int64_t now = now_ns();
  int64_t last = c.kicked_ns.load(std::memory_order_relaxed);
  if (!for_request && (now - last < 100 * 1000 || !c.kicked_ns.compare_exchange_strong(last, now)))
    return;
  if (for_request) c.kicked_ns.store(now, std::memory_order_relaxed);
  uint64_t one = 1;
  if (sys_write(c.efd, &one, sizeof(one)) < 0) { /* the server also polls */
  }
}

size_t put_string(uint8_t *data, size_t at, const char *s, size_t len, wire::StrRef *ref) {
  ref->off = static_cast<uint32_t>(at);
  ref->len = static_cast<uint32_t>(len);
  if (len) memcpy(data + at, s, len);
  data[at + len] = '\0';
  return at + len + 1;
}

// How a wait for the server's answer ended: answered; withdrawn before the server took the
// request (or, for a read, the server died holding it: the kernel serves it); the server
// died holding a mutation (it may have happened: never repeat it).
enum class WaitEnd { kAnswered, kToKernel, kServerDied };

WaitEnd wait_done(Conn &c, wire::Slot *s, bool mutation, int64_t spin_ns) {
  const Tuning &t = tuning();
  int64_t start = now_ns();
  bool spinning = g_spinners.fetch_add(1, std::memory_order_relaxed) < t.client_spinners;
  t_call.spinning = spinning;  // (a siglongjmp: channel_recover_abandoned gives it back)
  if (!spinning) {
    g_spinners.fetch_sub(1, std::memory_order_relaxed);
    spin_ns = 0;
  }
  uint32_t spins = 0;
  while (s->h.state.load(std::memory_order_acquire) != wire::kDone) {
    int64_t waited = now_ns() - start;
    if (waited < spin_ns) {
      // Yield now and then (at every turn when confined to one CPU): the server must run.
      if (t.single_cpu || (++spins & 63) == 0) sched_yield();
      cpu_relax();
      continue;
    }
    if (spinning) {
      spinning = false;
      t_call.spinning = false;
      g_spinners.fetch_sub(1, std::memory_order_relaxed);
    }
    s->h.client_sleeping.store(1, std::memory_order_seq_cst);
    // Store-load: the server publishes kDone, then reads client_sleeping (a full fence there
    // too); without one on either side both may miss the other and the wake-up is lost.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    uint32_t cur = s->h.state.load(std::memory_order_seq_cst);
    if (cur == wire::kDone) break;
    bool woken = futex_wait(&s->h.state, cur, 50 * 1000000);
    if (woken) continue;
    cur = s->h.state.load(std::memory_order_acquire);
    bool gone = server_gone(c);
    if (gone) c.broken.store(true, std::memory_order_release);
    bool stalled = cur == wire::kPosted && server_stalled(c);
    bool stuck = cur == wire::kPosted && (stalled || waited > t.server_wait_ms * 1000000);
    if (gone || stuck) {
      uint32_t posted = wire::kPosted;
      if (s->h.state.compare_exchange_strong(posted, wire::kFree)) {
        if (stalled) g_stalled_waits.fetch_add(1, std::memory_order_relaxed);
        return WaitEnd::kToKernel;
      }
      if (gone && s->h.state.load() != wire::kDone)
        return mutation ? WaitEnd::kServerDied : WaitEnd::kToKernel;
    }
  }
  t_call.spinning = false;
  if (spinning) g_spinners.fetch_sub(1, std::memory_order_relaxed);
  s->h.client_sleeping.store(0, std::memory_order_relaxed);
  return WaitEnd::kAnswered;
}

// Whether a getxattr of str's name must go to the kernel without asking the server: a name
// outside user.* that the kernel answers itself (a security module, its ACL code) or was not
// seen handing to the file system yet.
bool xattr_for_kernel(Conn &c, const Strings &str) {
  const uint32_t bit = str.xattr_bit;
  if (bit != 0 &&
      !(wire::header_of(c.region)->xattrs_forwarded.load(std::memory_order_relaxed) & bit))
    return true;
  if (bit != 0 && !(c.xattrs_asked.load(std::memory_order_relaxed) & bit))
    c.xattrs_asked.fetch_or(bit, std::memory_order_relaxed);
  return false;
}

// Writes req (its umask set here) and its strings into slot idx of c and posts it; false when
// they do not fit.
bool post_request(Conn &c, int idx, wire::Op op, wire::Request &req, const Strings &str) {
  wire::Slot *s = wire::slot_at(c.region, static_cast<uint32_t>(idx));
  size_t need = sizeof(wire::Request) + str.len0 + str.len1 + str.name_len + 3;
  if (need > wire::kSlotDataSize) return false;
  req.umask = channel_umask();
  size_t at = sizeof(wire::Request);
  at = put_string(s->data, at, str.path0 ? str.path0 : "", str.len0, &req.path[0].path);
  if (str.path1) at = put_string(s->data, at, str.path1, str.len1, &req.path[1].path);
  if (str.name) at = put_string(s->data, at, str.name, str.name_len, &req.name);
  memcpy(s->data, &req, sizeof(req));
  s->h.op = static_cast<uint32_t>(op);
  s->h.req_len = static_cast<uint32_t>(at);
  s->h.client_sleeping.store(0, std::memory_order_relaxed);
  s->h.state.store(wire::kPosted, std::memory_order_seq_cst);
  wire::header_of(c.region)->pending.fetch_or(uint64_t{1} << idx, std::memory_order_seq_cst);
  return true;
}

// Copies the answer in slot s (not a fallback) into rep, and up to cap bytes of its data
// into data (rep->data_len: how many).
void read_reply(Conn &c, wire::Op op, int64_t rc, const wire::Slot *s, wire::Reply *rep, char *data,
                size_t cap) {
  memcpy(rep, s->data, sizeof(*rep));
  if (op == wire::Op::kStat && rc == 0) {
    bool cached = rep->hints & wire::kHintKernelCachesAttrs;
    if (cached) raise_flag(c.kernel_caches_attrs);
    raise_flag(cached ? g_seen_cached : g_seen_uncached);
  }
  size_t n = rep->data_len;
  if (n > cap) n = cap;
  if (n > wire::kSlotDataSize - sizeof(wire::Reply)) n = wire::kSlotDataSize - sizeof(wire::Reply);
  if (n) memcpy(data, s->data + sizeof(wire::Reply), n);
  rep->data_len = static_cast<uint32_t>(n);
}

// The connection a request of op on mount m goes through, held (release() it), or nullptr:
// the kernel serves the call (not connected, the server stuck in a file system call, an xattr
// name the server is not asked for).
Conn *acquire_for(const MountMatch &m, wire::Op op, const Strings &str) {
  if (tuning().disabled || !channel_in_owner_process()) return nullptr;
  Conn *c = find_conn(m.mnt_id);
  if (c == nullptr || !acquire(*c, m)) return nullptr;
  if (server_stalled(*c)) {
    release(*c);
    g_stalled_skips.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  if (op == wire::Op::kGetxattr && xattr_for_kernel(*c, str)) {
    release(*c);
    return nullptr;
  }
  return c;
}

}  // namespace

void channel_stall_stats(unsigned long long *skipped, unsigned long long *waited) {
  *skipped = g_stalled_skips.load(std::memory_order_relaxed);
  *waited = g_stalled_waits.load(std::memory_order_relaxed);
}

void channel_credentials_changed() {
  if (channel_in_owner_process()) g_cred_gen.fetch_add(1, std::memory_order_acq_rel);
}

mode_t channel_umask() {
  int u = g_umask.load(std::memory_order_relaxed);
  if (u < 0) {
    u = read_umask_from_proc();
    g_umask.store(u, std::memory_order_relaxed);
  }
  return static_cast<mode_t>(u);
}

// A vfork child's umask is its own (the kernel keeps one per process): not ours to cache.
void channel_set_umask(mode_t m) {
  if (channel_in_owner_process()) g_umask.store(m & 0777, std::memory_order_relaxed);
}

// ~50 ns a call here (measured: 1e7 raw getpid calls), against microseconds for the call.
bool channel_in_owner_process() {
  pid_t owner = g_owner.load(std::memory_order_relaxed);
  return owner != 0 && owner == static_cast<pid_t>(syscall(SYS_getpid));
}

void channel_defer_first_handshake() {
  g_defer_first.store(true, std::memory_order_relaxed);
}

void channel_set_owner_process() {
  g_owner.store(static_cast<pid_t>(syscall(SYS_getpid)), std::memory_order_relaxed);
}

// Not instrumented by ASan: at the exit of a cancelled thread ASan's stack poisoning of the
// frames the cancellation unwound is stale, and it reports our own locals.
__attribute__((no_sanitize_address)) void channel_recover_abandoned() {
  if (t_call.conn == nullptr && t_call.busy == nullptr && !t_call.spinning) return;
  InFlight f = t_call;
  t_call = InFlight{nullptr, nullptr, -1, false, 0};
  if (f.spinning) g_spinners.fetch_sub(1, std::memory_order_relaxed);
  if (f.busy != nullptr) {  // left while connecting: whatever the handshake made is lost
    static_cast<Conn *>(f.busy)->retry_after_ns = now_ns() + int64_t{1000} * 1000000;
    static_cast<Conn *>(f.busy)->state.store(kDisconnected, std::memory_order_release);
    pthread_setcancelstate(f.cancel_state, nullptr);
  }
  if (f.conn == nullptr) return;
  Conn &c = *static_cast<Conn *>(f.conn);
  if (f.slot >= 0) {
    // Posted: withdraw it; answered: drop the answer; claimed: the server is on it, and the
    // slot stays taken until the connection is re-made.
    std::atomic<uint32_t> &st = wire::slot_at(c.region, static_cast<uint32_t>(f.slot))->h.state;
    uint32_t v = st.load(std::memory_order_acquire);
    if ((v == wire::kPosted && st.compare_exchange_strong(v, wire::kFree)) || v == wire::kDone) {
      st.store(wire::kFree, std::memory_order_release);
      v = wire::kFree;
    }
    if (v == wire::kFree) put_slot(c, f.slot);
  }
  release(c);
  // A teardown put off because of this very reference (drained) may go ahead at once.
  if (c.state.load(std::memory_order_acquire) == kConnected) c.retry_after_ns = 0;
}

Result channel_call(const MountMatch &m, wire::Op op, wire::Request &req, const Strings &str,
                    bool mutation, wire::Reply *rep, char *data, size_t cap, KernelFacts *facts) {
  Conn *c = acquire_for(m, op, str);
  if (c == nullptr) return kToKernel;
  // A sleeping server takes a wake-up (60-80 us here) before it sees a request: about what
  // the kernel path costs when it must ask the daemon, and far more than when the kernel has
  // the answer (an lstat of a name READDIRPLUS just gave it: ~1 us). A read-only call takes
  // the kernel then, and wakes the server for the calls after it; a mutation costs the
  // kernel path a round trip to the daemon anyway, and waits.
  wire::RegionHeader *hdr = wire::header_of(c->region);
  // A listing is worth a wake-up: the kernel's costs a round trip per page of entries.
  const bool routed = !mutation && op != wire::Op::kReaddir && !tuning().wake_for_reads;
  // On a mount whose names the kernel caches, the cheaper route lately (read_route.h).
  ReadRoutes *timed =
      routed && c->kernel_caches_attrs.load(std::memory_order_relaxed) ? &c->read_routes : nullptr;
  if (timed != nullptr &&
      timed->choose(op, !hdr->server_idle.load(std::memory_order_relaxed)) == ReadRoute::kKernel) {
    begin_kernel_sample(timed, op);
    release(*c);
    return kToKernel;
  }
  if (routed && hdr->server_idle.load(std::memory_order_seq_cst)) {
    // Woken only for a run of calls (the previous read was recent): one now and then, a
    // directory's fstatat in `grep -r`, would wake it for nothing.
    int64_t now = now_ns();
    if (now - c->idle_read_ns.exchange(now, std::memory_order_relaxed) < kReadRunNs)
      kick(*c, /*for_request=*/false);
    if (timed != nullptr) begin_kernel_sample(timed, op);
    release(*c);
    return kToKernel;
  }
  // (Read only now: a call the kernel takes needs no clock of ours here.)
  const int64_t start_ns = timed != nullptr ? now_ns() : 0;
  // (Before the request: without them the answer could not be given.)
  KernelFacts sfacts{};
  if (facts != nullptr && op == wire::Op::kStatfs && !statfs_facts(*c, m, &sfacts)) {
    release(*c);
    return kToKernel;
  }
  int idx = take_slot(*c);
  if (idx < 0) {
    release(*c);
    return kToKernel;  // more threads in flight than slots: the kernel serves this one
  }
  wire::Slot *s = wire::slot_at(c->region, static_cast<uint32_t>(idx));
  // A listing by path asks which entries lack the xattrs this process reads for each file,
  // on a mount with attribute timeouts (the answers hold no longer than those).
  AbsentXattrs::Mark mark;
  int64_t asked_ns = 0;
  const bool first_listing = op == wire::Op::kReaddir && req.stream == 0 && str.len0 > 0;
  if (first_listing) c->absent.note_listed_dir(str.path0, str.len0);
  if (first_listing && c->kernel_caches_attrs.load(std::memory_order_relaxed)) {
    if (c->fruitless_listings.load(std::memory_order_relaxed) < kFruitlessListings)
      req.mode = c->xattrs_asked.load(std::memory_order_relaxed) &
                 hdr->xattrs_forwarded.load(std::memory_order_relaxed);
    if (c->absent.attrs_went_unused()) c->attr_credit.fetch_sub(1, std::memory_order_relaxed);
    if (c->attr_credit.load(std::memory_order_relaxed) > 0) req.mode |= wire::kListAttrs;
    if (req.mode != 0) {
      mark = {c->serial, hdr->changes.load(std::memory_order_seq_cst)};
      asked_ns = now_ns();
    }
  }
  if (!post_request(*c, idx, op, req, str)) {
    put_slot(*c, idx);
    release(*c);
    return kToKernel;
  }
  // A sleeping server takes a wake-up before it even sees the request: spin through it, or
  // the reply costs a second wake-up, ours.
  int64_t spin_ns = tuning().client_spin_ns;
  // A first listing takes the server a while (the whole directory, maybe a lookup and xattrs
  // per entry): a wake-up after it would cost as much again.
  if (first_listing) spin_ns = std::max<int64_t>(spin_ns, tuning().client_wake_spin_ns);
  if (hdr->server_idle.load(std::memory_order_seq_cst)) {
    kick(*c, /*for_request=*/true);
    spin_ns = std::max<int64_t>(spin_ns, tuning().client_wake_spin_ns);
    timed = nullptr;  // a wake-up is not what the bypass costs while it is used
  }
  WaitEnd end = wait_done(*c, s, mutation, spin_ns);
  Result result = kToKernel;
  if (end == WaitEnd::kAnswered) {
    result = Result::from_wire(s->h.result);
    if (!result.to_kernel()) {
      if (timed != nullptr) timed->sample(op, ReadRoute::kBypass, now_ns() - start_ns);
      read_reply(*c, op, result.rc(), s, rep, data, cap);
      const size_t n = rep->data_len;
      if (op == wire::Op::kReaddir && result.rc() == 0) {
        if (asked_ns != 0) {
          const bool any_absent =
              rep->absent_valid_ns != 0 &&
              c->absent.begin(str.path0, str.len0, listed_through(req, *rep), mark,
                              asked_ns + static_cast<int64_t>(rep->absent_valid_ns), rep->stream,
                              data, n);
          if (any_absent)
            c->fruitless_listings.store(0, std::memory_order_relaxed);
          else if ((req.mode & wire::kXattrAll) && AbsentXattrs::any_named(data, n))
            c->fruitless_listings.fetch_add(1, std::memory_order_relaxed);
        } else if (req.stream != 0) {
          c->absent.more(req.stream, data, n);
        }
      }
      if (facts) {
        *facts = c->facts;
        if (op == wire::Op::kStatfs) {
          facts->f_fsid = sfacts.f_fsid;
          facts->f_flags = sfacts.f_flags;
          facts->f_type = sfacts.f_type;
        }
      }
    }
    s->h.state.store(wire::kFree, std::memory_order_release);
    put_slot(*c, idx);
  } else if (end == WaitEnd::kToKernel) {
    put_slot(*c, idx);
  } else {
    // The slot stays claimed by a dead server; the connection is torn down on next use.
    t_call.slot = -1;
    result = -ENOTCONN;  // what the kernel path returns for a dead daemon
  }
  release(*c);
  return result;
}

bool channel_post(const MountMatch &m, wire::Op op, wire::Request &req, const Strings &str,
                  bool mutation, Posted *p) {
  Conn *c = acquire_for(m, op, str);
  if (c == nullptr) return false;
  int idx = take_slot(*c);
  if (idx < 0 || !post_request(*c, idx, op, req, str)) {
    if (idx >= 0) put_slot(*c, idx);
    release(*c);
    return false;
  }
  // Held by *p from now on, not by this thread's call (channel_recover_abandoned).
  t_call.conn = nullptr;
  t_call.slot = -1;
  // Every post that finds the server asleep kicks: one that woke it may have been served
  // already, and the server asleep again.
  if (wire::header_of(c->region)->server_idle.load(std::memory_order_seq_cst))
    kick(*c, /*for_request=*/true);
  *p = Posted{c, idx, op, mutation};
  return true;
}

namespace {

// Waits for posted request p and gives its slot and connection back; read(conn, slot,
// result) takes the answer first when the server gave one (not FALLBACK). The result, or
// -ENOTCONN when the server died holding it (p.mutation: it may have been made).
template <typename Read>
Result reap(Posted &p, Read read) {
  Conn &c = *static_cast<Conn *>(p.conn);
  t_call.conn = &c;
  t_call.slot = p.slot;
  wire::Slot *s = wire::slot_at(c.region, static_cast<uint32_t>(p.slot));
  const int64_t spin_ns = std::max<int64_t>(tuning().client_spin_ns, tuning().client_wake_spin_ns);
  WaitEnd end = wait_done(c, s, p.mutation, spin_ns);
  Result result = kToKernel;
  if (end == WaitEnd::kAnswered) {
    result = Result::from_wire(s->h.result);
    if (!result.to_kernel()) read(c, s, result);
    s->h.state.store(wire::kFree, std::memory_order_release);
    put_slot(c, p.slot);
  } else if (end == WaitEnd::kToKernel) {
    put_slot(c, p.slot);
  } else {
    t_call.slot = -1;  // the slot stays claimed by a dead server, as in channel_call
    result = -ENOTCONN;
  }
  release(c);
  p = Posted{};
  return result;
}

}  // namespace

Result channel_reap(Posted &p, wire::Reply *rep, char *data, size_t cap, KernelFacts *facts) {
  const wire::Op op = p.op;
  return reap(p, [&](Conn &c, const wire::Slot *s, Result result) {
    read_reply(c, op, result.rc(), s, rep, data, cap);
    if (facts != nullptr) *facts = c.facts;
  });
}

bool channel_pack_begin(const MountMatch &m, Pack *p) {
  Conn *c = acquire_for(m, wire::Op::kBatch, Strings{});
  if (c == nullptr) return false;
  int idx = take_slot(*c);
  if (idx < 0) {
    release(*c);
    return false;
  }
  t_call.conn = nullptr;  // held by *p (as channel_post's)
  t_call.slot = -1;
  *p = Pack{c, idx, m.mnt_id, 0, sizeof(wire::BatchHeader), false};
  return true;
}

bool channel_pack_add(Pack &p, wire::Op op, wire::Request &req, const Strings &str, bool mutation) {
  Conn &c = *static_cast<Conn *>(p.conn);
  const size_t len = sizeof(wire::Request) + str.len0 + str.len1 + str.name_len + 3;
  const size_t need = wire::batch_call_size(len);
  if (!wire::batchable(op) || p.count >= wire::kBatchMax || need > wire::kSlotDataSize - p.used)
    return false;
  uint8_t *call = wire::slot_at(c.region, static_cast<uint32_t>(p.slot))->data + p.used;
  uint8_t *base = call + sizeof(wire::BatchCall);  // the request's strings are relative to it
  req.umask = channel_umask();
  size_t at = sizeof(wire::Request);
  at = put_string(base, at, str.path0 ? str.path0 : "", str.len0, &req.path[0].path);
  if (str.path1) at = put_string(base, at, str.path1, str.len1, &req.path[1].path);
  if (str.name) at = put_string(base, at, str.name, str.name_len, &req.name);
  memcpy(base, &req, sizeof(req));
  const wire::BatchCall head{static_cast<uint32_t>(op), static_cast<uint32_t>(at)};
  memcpy(call, &head, sizeof(head));
  p.used += wire::batch_call_size(at);
  p.count++;
  p.mutation = p.mutation || mutation;
  return true;
}

void channel_pack_post(Pack &p, Posted *posted) {
  Conn &c = *static_cast<Conn *>(p.conn);
  wire::Slot *s = wire::slot_at(c.region, static_cast<uint32_t>(p.slot));
  const wire::BatchHeader h{p.count, 0};
  memcpy(s->data, &h, sizeof(h));
  s->h.op = static_cast<uint32_t>(wire::Op::kBatch);
  s->h.req_len = static_cast<uint32_t>(p.used);
  s->h.client_sleeping.store(0, std::memory_order_relaxed);
  s->h.state.store(wire::kPosted, std::memory_order_seq_cst);
  wire::header_of(c.region)->pending.fetch_or(uint64_t{1} << p.slot, std::memory_order_seq_cst);
  if (wire::header_of(c.region)->server_idle.load(std::memory_order_seq_cst))
    kick(c, /*for_request=*/true);
  *posted = Posted{&c, p.slot, wire::Op::kBatch, p.mutation};
  p = Pack{};
}

void channel_pack_drop(Pack &p) {
  if (p.conn == nullptr) return;
  Conn &c = *static_cast<Conn *>(p.conn);
  put_slot(c, p.slot);
  release(c);
  p = Pack{};
}

Result channel_reap_pack(Posted &p, uint32_t count, PackEntryFn each, void *ctx) {
  return reap(p, [&](Conn &c, const wire::Slot *s, Result) {
    const size_t n = std::min<size_t>(count, s->h.rep_len / sizeof(wire::BatchReply));
    for (uint32_t i = 0; i < count; i++) {
      wire::BatchReply r{wire::kFallback, 0, {}};
      if (i < n) memcpy(&r, s->data + i * sizeof(r), sizeof(r));
      each(ctx, i, r, c.facts);
    }
  });
}

void channel_expect_call(const MountMatch &m) {
  if (tuning().disabled || !channel_in_owner_process()) return;
  Conn *c = conn_of(m.mnt_id);
  if (c == nullptr || !acquire_connected(*c, m, g_cred_gen.load(std::memory_order_acquire))) return;
  if (wire::header_of(c->region)->server_idle.load(std::memory_order_seq_cst))
    kick(*c, /*for_request=*/false);
  release(*c);
}

namespace {

// Calls ask(conn, mark) on mount m's connection while it is held, with the mark its latest
// listing's answers must still carry (AbsentXattrs); false without a connection.
template <typename Ask>
bool ask_listing(const MountMatch &m, Ask ask) {
  if (tuning().disabled) return false;
  // A process that never listed pays two loads here, not the connection's reference, the
  // region's changes word and the lock (a build tool's relative stats take this path).
  Conn *c = conn_of(m.mnt_id);
  if (c == nullptr || c->absent.nothing_listed() || !channel_in_owner_process() ||
      !acquire_connected(*c, m, g_cred_gen.load(std::memory_order_acquire)))
    return false;
  const AbsentXattrs::Mark now{c->serial,
                               wire::header_of(c->region)->changes.load(std::memory_order_seq_cst)};
  const bool known = ask(*c, now);
  release(*c);
  return known;
}

}  // namespace

bool channel_known_absent(const MountMatch &m, const char *rel, size_t rel_len, uint32_t bit,
                          bool follow, AbsentXattrs::Through through) {
  return ask_listing(m, [&](Conn &c, AbsentXattrs::Mark now) {
    return c.absent.absent(rel, rel_len, bit, follow, through, now, now_ns());
  });
}

bool channel_listed_attr(const MountMatch &m, const char *rel, size_t rel_len, bool follow,
                         AbsentXattrs::Through through, wire::Attr *attr, KernelFacts *facts) {
  return ask_listing(m, [&](Conn &c, AbsentXattrs::Mark now) {
    if (!c.absent.attr(rel, rel_len, follow, through, now, now_ns(), attr)) {
      if (c.absent.in_listed_dir(rel, rel_len))
        c.attr_credit.store(kAttrCredit, std::memory_order_relaxed);
      return false;
    }
    *facts = c.facts;
    return true;
  });
}

bool channel_ever_connected() {
  return g_ever_connected.load(std::memory_order_relaxed);
}

bool channel_kernel_caches_attrs(uint64_t mnt_id) {
  const Conn *c = conn_of(mnt_id);
  return c != nullptr && c->kernel_caches_attrs.load(std::memory_order_relaxed);
}

bool channel_kernel_caches_all_attrs() {
  return g_seen_cached.load(std::memory_order_relaxed) &&
         !g_seen_uncached.load(std::memory_order_relaxed);
}

}  // namespace finesse::client
