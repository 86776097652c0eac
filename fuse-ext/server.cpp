#include "server.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "clock.h"
#include "control.h"
#include "cred_watch.h"
#include "creds.h"
#include "epoll_watch.h"
#include "extension.h"
#include "fd_discard.h"
#include "front_door.h"
#include "fs_call.h"
#include "fs_state.h"
#include "futex.h"
#include "handlers.h"
#include "kernel_watch.h"
#include "mount_info.h"
#include "request_decode.h"
#include "tuning.h"
#include "unix_socket.h"

namespace finesse::server {

namespace {

std::string run_dir() {
  const char *env = getenv("FINESSE_RUN_DIR");
  if (env && *env) return env;
  if (geteuid() == 0) return "/run/finesse";
  return "/tmp/finesse-" + std::to_string(geteuid());
}

}  // namespace

Server::Server(Extension &ext) : ext_(ext), door_(ext.counters, ext.kernel, ext.discard) {}

int Server::start(const std::string &mountpoint) {
  if (running()) return 0;
  mountpoint_ = mountpoint;
  own_mnt_id_ = 0;
  std::string dir = run_dir();
  mkdir(dir.c_str(), 0755);
  chmod(dir.c_str(), 0755);
  socket_path_ = dir + "/" + std::to_string(getpid()) + ".sock";
  int listen_fd = unix_listen(socket_path_, 128);
  if (listen_fd < 0) return listen_fd;
  listen_fd_.reset(listen_fd);
  chmod(socket_path_.c_str(), 0666);  // who may be served is decided at the handshake
  epoll_fd_.reset(epoll_create1(EPOLL_CLOEXEC));
  stop_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  arrival_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  mountinfo_fd_.reset(open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
  epoll_watch(epoll_fd_.get(), stop_fd_.get(), EPOLLIN);
  epoll_watch(epoll_fd_.get(), arrival_fd_.get(), EPOLLIN);
  if (mountinfo_fd_.valid()) epoll_watch(epoll_fd_.get(), mountinfo_fd_.get(), EPOLLPRI | EPOLLERR);
  refresh_mount();
  thread_ = std::thread([this] { run(); });
  return door_.start(listen_fd_.get(), stop_fd_.get(), arrival_fd_.get());
}

void Server::stop() {
  if (!running()) return;
  uint64_t one = 1;
  if (write(stop_fd_.get(), &one, sizeof(one)) < 0) { /* the thread also polls */
  }
  thread_.join();
  door_.stop();
  close_all();
  listen_fd_.reset();
  unlink(socket_path_.c_str());
  for (UniqueFd *fd : {&epoll_fd_, &stop_fd_, &arrival_fd_, &mountinfo_fd_}) fd->reset();
  std::vector<Forget> forgets;
  ext_.cache.flush(&forgets);
  forget_all(forgets);
}

void Server::forget_all(const std::vector<Forget> &forgets) {
  for (const Forget &f : forgets) fs_forget(ext_.fs, f.ino, f.nlookup);
}

void Server::close_all() {
  std::vector<int> fds;
  for (auto &[fd, c] : clients_) fds.push_back(fd);
  for (int fd : fds) drop_client(fd);
}

void Server::refresh_mount() {
  mount_ = read_mount_info(mountpoint_);
  facts_.default_permissions = mount_.default_permissions;
  facts_.allow_other = mount_.allow_other;
  facts_.read_only = mount_.read_only;
  facts_.noexec = mount_.noexec;
  facts_.nested.clear();  // (the file system's INIT choices are taken in serve_slot)
  for (const auto &n : mount_.nested) facts_.nested.insert(n);
  int fd = open("/proc/sys/fs/protected_hardlinks", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char b = '1';
    if (read(fd, &b, 1) == 1) facts_.protected_hardlinks = b != '0';
    close(fd);
  }
  door_.set_access(mount_access());
  // After a lazy unmount, a mount over ours or over an ancestor of its mount point, the path
  // leads elsewhere: serving it would answer for a file system the kernel no longer shows
  // there. Everything goes to the kernel from then on.
  if (own_mnt_id_ == 0 && mount_.found) own_mnt_id_ = mount_.mnt_id;
  mount_ok_ = mount_.found && mount_.mnt_id == own_mnt_id_ && !mount_.covered;
}

// Whether our mount still lies at its mount point, looking at mountinfo again only when a
// mount table may have changed: the BPF mount-change counter (one load, root servers), else
// the mountinfo file's own change notification (one poll).
bool Server::mount_current() {
  uint64_t gen = 0;
  uint32_t source = 0;
  if (kernel_.mount_generation(&gen, &source)) {
    if (gen != mount_gen_ || source != mount_gen_source_) {
      mount_gen_ = gen;  // first: a change while we read mountinfo moves it again
      mount_gen_source_ = source;
      refresh_mount();
    }
    return mount_ok_;
  }
  pollfd p{mountinfo_fd_.get(), POLLPRI, 0};
  if (mountinfo_fd_.valid() && poll(&p, 1, 0) > 0) refresh_mount();
  return mount_ok_;
}

namespace {
bool is_mutation(wire::Op op) {
  switch (op) {
    case wire::Op::kUnlink:
    case wire::Op::kRmdir:
    case wire::Op::kMkdir:
    case wire::Op::kRename:
    case wire::Op::kSetattr:
    case wire::Op::kSymlink:
    case wire::Op::kLink:
      return true;
    default:
      return false;
  }
}
}  // namespace

// What the kernel path would do differently (kernel_watch.h): our mount no longer at its
// path, a relative path whose cwd the client no longer has, a mutation someone may be
// watching for. Any of them: FALLBACK.
bool Server::kernel_allows(Client &c, const Decoded &d) {
  if (!mount_current()) return false;
  for (int i = 0; i < 2; i++) {
    uint32_t flag = i == 0 ? wire::kCwdBase0 : wire::kCwdBase1;
    if ((d.req.flags & flag) &&
        !kernel_.cwd_is(c.creds.pid, mount_.kernel_dev, d.req.path[i].verify_ino, &c.cwd_check))
      return false;
  }
  return !is_mutation(d.op) || !kernel_.mount_watched(own_mnt_id_);
}

// Busy for good (a client that floods us), the server still looks at its sockets this often:
// else a new client's hello, a hang-up or the stop request waits for a quiet moment, which a
// flood never leaves (seen under a slow emulator: a good client's hello timed out).
namespace {
constexpr int64_t kBusyPollNs = 1000 * 1000;
// How often the regions' beat words move while the server is awake (wire.h: at least every
// millisecond; clients judge it against FINESSE_SERVER_STUCK_MS).
constexpr int64_t kBeatNs = 1000 * 1000;

// The shortest spin after a request (see spin_ns in run()).
constexpr int64_t kMinSpinNs = 10 * 1000;
}  // namespace

void Server::run() {
  const Tuning &t = tuning();
  int64_t last_work = now_ns();
  int64_t next_poll = last_work + kBusyPollNs;
  uint32_t iterations = 0;
  // Spin budget after the last request: FINESSE_SERVER_SPIN_US while requests come in runs,
  // halved (down to kMinSpinNs) after each wake-up that served a single turn, quadrupled
  // again when a sleep ended sooner than the full budget would have spun, full again after
  // a kick that posted nothing (a run of reads). Sporadic calls
  // between kernel-path work (a directory's fstatat in `grep -r`) gained nothing from a long
  // spin, and it took a CPU from the daemon threads and the program (2 CPUs here).
  int64_t spin_ns = t.server_spin_ns;
  uint32_t turns_since_wake = 0;
  int64_t slept_at = 0;
  for (;;) {
    if (scan()) {
      turns_since_wake++;
      last_work = now_ns();
      if (last_work >= next_poll) {
        next_poll = last_work + kBusyPollNs;
        if (poll_events(0) < 0) return;
      }
      continue;
    }
    // Spin (reading the clock and yielding only now and then: a client thread waiting for a
    // CPU must get it), then poll the sockets now and then, then sleep.
    ++iterations;
    // Confined to one CPU, a client waiting for us waits for this very CPU: yield every turn.
    if (t.single_cpu) sched_yield();
    if ((iterations & 31) != 0) {
      cpu_relax();
      continue;
    }
    if (!t.single_cpu && (iterations & 127) == 0) sched_yield();
    bool spinning = now_ns() - last_work < spin_ns;
    if (spinning && (iterations & 1023) != 0) continue;
    int timeout = 0;
    if (!spinning) {
      spin_ns = turns_since_wake > 1 ? t.server_spin_ns : std::max(spin_ns / 2, kMinSpinNs);
      if (spin_ns > t.server_spin_ns) spin_ns = t.server_spin_ns;
      turns_since_wake = 0;
      // Going to sleep: tell every client to kick us, then look once more (a client may
      // have posted between our scan and its reading of the flag).
      set_idle(1);
      if (find_posted()) {
        set_idle(0);
        last_work = now_ns();
        continue;
      }
      timeout = -1;
      slept_at = now_ns();
    }
    int n = poll_events(timeout, !spinning);
    // Asleep and woken for none of our clients (a loader asking for our facts, a mount
    // elsewhere): still flagged idle, back to sleep as we were, the spin budget untouched.
    while (n == 0 && !spinning) n = poll_events(-1, true);
    if (n < 0) return;
    next_poll = now_ns() + kBusyPollNs;
    if (n == 0) continue;
    last_work = now_ns();
    if (spinning) continue;
    // Back from sleep. Woken with nothing posted: a read of a run found us asleep, took the
    // kernel and kicked (channel_call); the full spin, for its successors that come within
    // microseconds. Woken by a request sooner than the full spin would have lasted: more.
    if (!find_posted())
      spin_ns = t.server_spin_ns;
    else if (next_poll - kBusyPollNs - slept_at < t.server_spin_ns)
      spin_ns = std::min(spin_ns * 4, t.server_spin_ns);
  }
}

// Handles what the sockets have (waiting up to timeout ms): how many of the events were a
// client's (a kick or a new connection: worth spinning for), -1 once asked to stop.
int Server::poll_events(int timeout, bool was_idle) {
  epoll_event events[32];
  int n = epoll_wait(epoll_fd_.get(), events, 32, timeout);
  int for_clients = 0;
  for (int i = 0; i < n; i++) {
    if (events[i].data.fd == stop_fd_.get()) return -1;
    if (handle_event(events[i].data.fd, events[i].events)) for_clients++;
  }
  // Woken for anything else the server stays flagged idle (run() sleeps again): clients keep
  // taking the kernel for reads.
  if (!was_idle)
    maybe_beat();
  else if (for_clients > 0)
    set_idle(0);  // beats too
  return for_clients;
}

// Moves every region's beat word, at most once a millisecond.
void Server::maybe_beat() {
  int64_t now = now_ns();
  if (now < next_beat_ns_) return;
  next_beat_ns_ = now + kBeatNs;
  for (Client *c : active_)
    wire::header_of(c->region)->beat.fetch_add(1, std::memory_order_relaxed);
}

void Server::set_idle(uint32_t v) {
  for (Client *c : active_) {
    wire::RegionHeader *h = wire::header_of(c->region);
    h->server_idle.store(v);
    h->beat.fetch_add(1, std::memory_order_relaxed);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

// True for a client's kick or arrival. A mount change anywhere (mountinfo), a control
// request or a hang-up is no reason to spin on: mount churn elsewhere kept servers awake.
bool Server::handle_event(int fd, uint32_t events) {
  if (fd == arrival_fd_.get()) return adopt_arrivals();
  if (fd == mountinfo_fd_.get()) return refresh_mount(), false;
  auto e = by_efd_.find(fd);
  if (e != by_efd_.end()) {
    uint64_t v;
    if (read(fd, &v, sizeof(v)) < 0) { /* nothing pending */
    }
    return true;
  }
  auto pe = by_pidfd_.find(fd);
  if (pe != by_pidfd_.end()) return drop_client(pe->second->sock), false;
  auto it = clients_.find(fd);
  if (it == clients_.end()) return false;
  Client &c = *it->second;
  if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) return drop_client(fd), false;
  if (c.control) return on_control(c), false;
  // A served client has nothing more to say on the socket: drain and ignore.
  char junk[256];
  bool had_fds;
  ssize_t n = ext_.discard.recv(fd, junk, sizeof(junk), &had_fds);
  if ((n <= 0 && n != -EAGAIN) || had_fds) drop_client(fd);
  return false;
}

// Takes the connections the front door welcomed. True if a client with a region came (its
// first request is on its way; a control connection is none).
bool Server::adopt_arrivals() {
  uint64_t v;
  if (read(arrival_fd_.get(), &v, sizeof(v)) < 0) { /* nothing new */
  }
  bool client = false;
  for (auto &c : door_.take_arrivals()) {
    Client *p = c.get();
    epoll_watch(epoll_fd_.get(), p->sock, EPOLLIN | EPOLLRDHUP);
    if (p->region != nullptr) {
      client = true;
      by_efd_[p->efd] = p;
      epoll_watch(epoll_fd_.get(), p->efd, EPOLLIN);
      active_.push_back(p);
    }
    if (p->cred_watch.pidfd >= 0) {
      by_pidfd_[p->cred_watch.pidfd] = p;
      epoll_watch(epoll_fd_.get(), p->cred_watch.pidfd, EPOLLIN);
    }
    clients_[p->sock] = std::move(c);
  }
  return client;
}

void Server::drop_client(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client *c = it->second.get();
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  if (c->efd >= 0) {
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, c->efd, nullptr);
    by_efd_.erase(c->efd);
  }
  if (c->cred_watch.pidfd >= 0) {
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, c->cred_watch.pidfd, nullptr);
    by_pidfd_.erase(c->cred_watch.pidfd);
  }
  for (size_t i = 0; i < active_.size(); i++)
    if (active_[i] == c) {
      active_.erase(active_.begin() + i);
      break;
    }
  close_client(*c, ext_.counters, ext_.discard);
  door_.left(c->peer_uid);
  clients_.erase(it);
}

void Server::on_control(Client &c) {
  control::Request req{};
  bool had_fds;
  ssize_t n = ext_.discard.recv(c.sock, &req, sizeof(req), &had_fds);
  if (n == -EAGAIN) return;
  if (n <= 0 || had_fds) return drop_client(c.sock);
  control::Reply rep{};
  rep.magic = wire::kMagic;
  rep.status = 0;
  req.arg[sizeof(req.arg) - 1] = '\0';
  bool root = c.creds.uid == 0;
  if (n != sizeof(req) || req.magic != wire::kMagic) {
    rep.status = -EPROTO;
  } else if (req.op == control::Op::kInfo) {
    rep.info.pid = getpid();
    rep.info.flags = (facts_.default_permissions ? control::kDefaultPermissions : 0) |
                     (facts_.allow_other ? control::kAllowOther : 0);
    rep.info.mnt_id = mount_.mnt_id;
    rep.info.kernel_dev = mount_.kernel_dev;
    rep.info.clients = static_cast<uint32_t>(active_.size());
    snprintf(rep.info.mount_path, sizeof(rep.info.mount_path), "%s", mountpoint_.c_str());
  } else if (req.op == control::Op::kChallenge) {
    bool first_miss = false;
    rep.status = ext_.challenges.check(req.arg, &first_miss);
    if (first_miss)
      fprintf(stderr,
              "libfinesse_fuse: replies to kernel requests do not pass through "
              "libfinesse_fuse.so (libfuse linked with -Bsymbolic-functions?): no bypass for "
              "%s, the kernel path serves it\n",
              mountpoint_.c_str());
  } else if (req.op == control::Op::kStats) {
    Counters &k = ext_.counters;
    for (uint32_t i = 0; i < wire::kOpCount; i++) {
      rep.stats.served[i] = k.served[i];
      rep.stats.fallback[i] = k.fallback[i];
    }
    rep.stats.kernel_ops = k.kernel_ops;
    rep.stats.clients_total = k.clients_total;
    rep.stats.clients_active = k.clients_active;
    rep.stats.lookups_held = ext_.cache.lookups_held();
  } else if (req.op == control::Op::kDetach && root) {
    std::vector<int> fds;
    for (auto &[fd, cl] : clients_)
      if (!cl->control) fds.push_back(fd);
    for (int fd : fds) drop_client(fd);
  } else if (req.op == control::Op::kFlush && root) {
    std::vector<Forget> forgets;
    ext_.cache.flush(&forgets);
    forget_all(forgets);
  } else {
    rep.status = root ? -EINVAL : -EPERM;
  }
  send_msg(c.sock, &rep, sizeof(rep), nullptr, 0);
}

// Requests served for one client before the next client's turn: a client that keeps every
// slot posted gets no more than its share (a good client waits for at most this many of its
// requests, not for all 64).
namespace {
constexpr int kServedPerTurn = 8;
}
static_assert(wire::kSlotCount == 64, "one bit of the pending word per slot");

bool Server::scan() {
  bool found = false;
  for (size_t i = 0; i < active_.size(); i++) {
    Client *c = active_[i];
    // The pending word names the posted slots (bits left from the last turn first).
    uint64_t bits =
        c->carry | wire::header_of(c->region)->pending.exchange(0, std::memory_order_acq_rel);
    int served = 0;
    while (bits != 0 && served < kServedPerTurn) {
      // Round robin from the slot after the last one served: no slot waits behind the others.
      uint32_t from = c->next_slot % wire::kSlotCount;
      uint64_t rotated = from ? (bits >> from) | (bits << (64 - from)) : bits;
      uint32_t idx = (static_cast<uint32_t>(__builtin_ctzll(rotated)) + from) % wire::kSlotCount;
      bits &= ~(uint64_t{1} << idx);
      c->next_slot = idx + 1;
      wire::Slot *s = wire::slot_at(c->region, idx);
      uint32_t expected = wire::kPosted;
      if (s->h.state.load(std::memory_order_relaxed) != wire::kPosted) continue;
      if (!s->h.state.compare_exchange_strong(expected, wire::kClaimed, std::memory_order_acquire))
        continue;
      serve_slot(*c, s);
      served++;
      found = true;
    }
    c->carry = bits;
    if (bits != 0) found = true;  // more to do at this client's next turn
    if (served) maybe_beat();     // many busy clients make a long pass: not a stuck server
  }
  return found;
}

// Before sleeping, with every region saying so: whether any slot is posted, also one whose
// bit a misbehaving client never set (it is served at its client's next turn). Only looks:
// a request served here, with the regions saying "asleep", would leave every client kicking
// a server stuck in a file-system call instead of seeing its still beat.
bool Server::find_posted() {
  bool found = false;
  for (Client *c : active_) {
    for (uint32_t i = 0; i < wire::kSlotCount; i++)
      if (wire::slot_at(c->region, i)->h.state.load(std::memory_order_acquire) == wire::kPosted)
        c->carry |= uint64_t{1} << i;
    found = found || c->carry != 0;
  }
  return found;
}

void Server::serve_slot(Client &c, wire::Slot *s) {
  // Copy first: the client may keep writing its slot while we look at it.
  // Each shared field read exactly once: plain reads of memory the client writes meanwhile
  // are a data race the compiler may resolve by reading again after the bounds check.
  uint32_t op = __atomic_load_n(&s->h.op, __ATOMIC_RELAXED);
  uint32_t len = __atomic_load_n(&s->h.req_len, __ATOMIC_RELAXED);
  wire::Reply rep{};
  int32_t result = wire::kFallback;
  Decoded d{};
  ServeCtx ctx{&c.creds, &facts_, &ext_.fs, &ext_.kernel, &ext_.cache};
  ctx.pidfd = c.cred_watch.pidfd;
  bool ready =
      ext_.fs.initialized.load(std::memory_order_acquire) && !ext_.challenges.replies_missed();
  if (ready) {
    // What the file system chose at INIT, which comes after the server started (the facts
    // refresh_mount took then had none of it).
    unsigned want = ext_.fs.conn_want;
    facts_.posix_acl = (want & FUSE_CAP_POSIX_ACL) != 0;
    facts_.dont_mask = (want & FUSE_CAP_DONT_MASK) != 0;
    facts_.writeback_cache = (want & FUSE_CAP_WRITEBACK_CACHE) != 0;
  }
  ready = ready && creds_current(cred_counter_, &c.creds, &c.cred_watch, mount_access());
  if (ready && len <= wire::kSlotDataSize) {
    memcpy(req_copy_.data(), s->data, len);
    if (decode_request(op, req_copy_.data(), len, &d) == 0 && kernel_allows(c, d)) {
      ctx.umask = d.req.umask & 0777;
      ReplyBuf out{&rep, reinterpret_cast<char *>(s->data) + sizeof(wire::Reply),
                   wire::kSlotDataSize - sizeof(wire::Reply)};
      result = serve_request(ctx, d, out);
    }
  }
  if (op > 0 && op < wire::kOpCount) {
    if (result == wire::kFallback)
      ext_.counters.fallback[op]++;
    else
      ext_.counters.served[op]++;
  }
  // The kernel must not answer from stale caches once the client sees our answer.
  ctx.inval.send(ext_.fs.session, ext_.kernel, &drops_);
  memcpy(s->data, &rep, sizeof(rep));
  s->h.result = result;
  s->h.rep_len = sizeof(rep) + rep.data_len;
  s->h.state.store(wire::kDone, std::memory_order_release);
  // Store-load (a release store and a later load may be reordered, on x86 too): the client
  // sets client_sleeping, then re-reads the state; each side needs a full fence in between,
  // or both miss the other and the client sleeps out its 50 ms futex timeout.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (s->h.client_sleeping.load(std::memory_order_seq_cst)) futex_wake(&s->h.state, INT_MAX);
  forget_all(ctx.forgets);
  // What the kernel revalidates anyway is dropped only now (an eviction and a FORGET for
  // the file system: nothing the client's next kernel call depends on).
  send_deferred(ext_.fs.session, &drops_);
}

}  // namespace finesse::server
