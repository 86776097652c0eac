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
  publish_clients();
  const Tuning &t = tuning();
  int threads = static_cast<int>(t.server_threads);
  max_serving_ = static_cast<int>(std::min<int64_t>(threads, t.cpus));
  stopping_ = false;
  lead_ = 0;  // the first thread leads
  serving_ = 1;
  for (int i = 0; i < threads; i++) {
    workers_.push_back(std::make_unique<Worker>());
    workers_.back()->id = i;
  }
  for (auto &w : workers_) {
    Worker *p = w.get();
    p->thread = std::thread([this, p] { worker_main(*p); });
  }
  return door_.start(listen_fd_.get(), stop_fd_.get(), arrival_fd_.get());
}

void Server::stop() {
  if (!running()) return;
  stopping_ = true;
  uint64_t one = 1;
  if (write(stop_fd_.get(), &one, sizeof(one)) < 0) { /* the leader also polls */
  }
  help_word_.fetch_add(1);
  watch_word_.fetch_add(1);
  futex_wake(&help_word_, INT_MAX);
  futex_wake(&watch_word_, INT_MAX);
  for (auto &w : workers_) w->thread.join();
  workers_.clear();
  door_.stop();
  close_all();
  published_.publish(nullptr);
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
  std::lock_guard<std::mutex> g(mount_mu_);
  mount_ = read_mount_info(mountpoint_);
  auto v = std::make_shared<MountView>();
  MountFacts &f = v->facts;
  f.default_permissions = mount_.default_permissions;
  f.allow_other = mount_.allow_other;
  f.read_only = mount_.read_only;
  f.noexec = mount_.noexec;
  f.mnt_id = mount_.mnt_id;
  for (const auto &n : mount_.nested) f.nested.insert(n);
  int fd = open("/proc/sys/fs/protected_hardlinks", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char b = '1';
    if (read(fd, &b, 1) == 1) f.protected_hardlinks = b != '0';
    close(fd);
  }
  // What the file system chose at INIT, which may come after the server started.
  if (ext_.fs.initialized.load(std::memory_order_acquire)) {
    unsigned want = ext_.fs.conn_want;
    v->conn_want = want;
    f.posix_acl = (want & FUSE_CAP_POSIX_ACL) != 0;
    f.dont_mask = (want & FUSE_CAP_DONT_MASK) != 0;
    f.writeback_cache = (want & FUSE_CAP_WRITEBACK_CACHE) != 0;
  }
  v->access = {f.allow_other, mount_.user_id, mount_.group_id};
  v->kernel_dev = mount_.kernel_dev;
  door_.set_access(v->access);
  // After a lazy unmount, a mount over ours or over an ancestor of its mount point, the path
  // leads elsewhere: serving it would answer for a file system the kernel no longer shows
  // there. Everything goes to the kernel from then on.
  if (own_mnt_id_ == 0 && mount_.found) own_mnt_id_ = mount_.mnt_id;
  v->mnt_id = own_mnt_id_;
  v->ok = mount_.found && mount_.mnt_id == own_mnt_id_ && !mount_.covered;
  const bool gone = !v->ok;
  // A mount made (or gone) below ours changes what a name there shows.
  const bool nested_changed = f.nested != nested_;
  if (nested_changed) nested_ = f.nested;
  view_.publish(std::move(v));
  // Nor may clients answer from what listings told them (RegionHeader::changes).
  if (gone || nested_changed) note_change();
}

// The mount as this thread last took it, taken again when it was replaced.
const MountView &Server::mount_view(Worker &w) {
  return *view_.take(&w.mount);  // (refresh_mount published one before any thread started)
}

// Looks at mountinfo again (refresh_mount) when a mount table may have changed: the BPF
// mount-change counter (one load, root servers), else the mountinfo file's own change
// notification (one poll). Whether our mount still lies at its mount point is the view's ok.
void Server::follow_mount_changes(Worker &w) {
  uint64_t gen = 0;
  uint32_t source = 0;
  if (w.kernel.mount_generation(&gen, &source)) {
    if (gen != w.mount_gen || source != w.mount_gen_source) {
      w.mount_gen = gen;  // first: a change while we read mountinfo moves it again
      w.mount_gen_source = source;
      refresh_mount();
    }
    return;
  }
  pollfd p{mountinfo_fd_.get(), POLLPRI, 0};
  if (mountinfo_fd_.valid() && poll(&p, 1, 0) > 0) refresh_mount();
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
// watching for. Any of them: FALLBACK. c.mu held.
bool Server::kernel_allows(Worker &w, Client &c, const MountView &mv, const Decoded &d) {
  if (!mv.ok) return false;
  for (int i = 0; i < 2; i++) {
    uint32_t flag = i == 0 ? wire::kCwdBase0 : wire::kCwdBase1;
    if ((d.req.flags & flag) &&
        !w.kernel.cwd_is(c.creds.pid, mv.kernel_dev, d.req.path[i].verify_ino, &c.cwd_check))
      return false;
  }
  return !is_mutation(d.op) || !w.kernel.mount_watched(mv.mnt_id);
}

namespace {
// Busy for good (a client that floods us), the leader still looks at its sockets this often:
// else a new client's hello, a hang-up or the stop request waits for a quiet moment, which a
// flood never leaves (seen under a slow emulator: a good client's hello timed out).
constexpr int64_t kBusyPollNs = 1000 * 1000;
// How often the regions' beat words move while the server is awake (wire.h: at least every
// millisecond; clients judge it against FINESSE_SERVER_STUCK_MS).
constexpr int64_t kBeatNs = 1000 * 1000;
// The shortest spin after a request (see spin_ns in lead()).
constexpr int64_t kMinSpinNs = 10 * 1000;
// How often the watcher looks at an awake leader: a leader inside the same request at two
// looks in a row (2-4 ms) loses the lead. Far below what clients wait before they call the
// server stuck (FINESSE_SERVER_STUCK_MS), far above what a request takes.
constexpr int64_t kWatchTickNs = 2 * 1000 * 1000;
// A leader asleep this long: the watcher sleeps too, until the leader wakes (a tick every
// 2 ms for a mount nobody uses would be a cost for nothing).
constexpr int64_t kWatcherDeepNs = 50 * 1000 * 1000;
// A helper woken for load serves until it found nothing for this long.
constexpr int64_t kHelperSpinNs = 50 * 1000;
constexpr uint32_t kInCall = 1u << 31;
}  // namespace

void Server::worker_main(Worker &w) {
  while (!stopping_.load(std::memory_order_acquire)) {
    if (leads(w))
      lead(w);
    else
      help(w);
  }
  w.clients.reset();
  w.mount.reset();
}

bool Server::leads(const Worker &w) const {
  return lead_.load(std::memory_order_acquire) == static_cast<uint32_t>(w.id);
}

// Taking the lead from a stuck leader helps other requests only if they do not wait for the
// same lock: not for a single-threaded file system.
bool Server::can_take_over() const {
  return workers_.size() > 1 && !ext_.fs.serialize.load(std::memory_order_relaxed);
}

// Runs while w leads; returns once it lost the lead (its thread then helps) or on stop.
void Server::lead(Worker &w) {
  const Tuning &t = tuning();
  int64_t last_work = now_ns();
  uint32_t iterations = 0;
  leader_asleep_since_.store(0, std::memory_order_relaxed);
  // The sockets first: a lead taken from a thread inside a long request may itself be taken
  // inside its first one, and then only this look sees new clients, hang-ups and the stop.
  next_poll_ns_ = 0;
  if (!poll_if_due()) return;
  // Spin budget after the last request: FINESSE_SERVER_SPIN_US while requests come in runs,
  // halved (down to kMinSpinNs) after each wake-up that served a single turn, quadrupled
  // again when a sleep ended sooner than the full budget would have spun, full again after
  // a kick that posted nothing (a run of reads). Sporadic calls
  // between kernel-path work (a directory's fstatat in `grep -r`) gained nothing from a long
  // spin, and it took a CPU from the daemon threads and the program (2 CPUs here).
  int64_t spin_ns = t.server_spin_ns;
  uint32_t turns_since_wake = 0;
  int64_t slept_at = 0;
  bool leading = true;
  for (;;) {
    bool found = scan(w, &leading);
    if (!leading) return;
    if (found) {
      turns_since_wake++;
      last_work = now_ns();
      if (!poll_if_due()) return;
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
      leader_asleep_since_.store(slept_at, std::memory_order_relaxed);
    }
    // Nothing held while asleep: a client dropped meanwhile goes at once (its region, its
    // pidfd), not at the next request.
    if (!spinning) w.clients.reset();
    int n = poll_events(timeout, !spinning);
    // Asleep and woken for none of our clients (a loader asking for our facts, a mount
    // elsewhere): still flagged idle, back to sleep as we were, the spin budget untouched.
    while (n == 0 && !spinning) n = poll_events(-1, true);
    if (n < 0) return;
    if (!spinning) {
      ext_.counters.wakeups.fetch_add(1, std::memory_order_relaxed);
      leader_asleep_since_.store(0, std::memory_order_relaxed);
      // The watcher sleeps until we wake (kWatcherDeepNs): wake it.
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (watcher_deep_.load(std::memory_order_relaxed)) {
        watch_word_.fetch_add(1, std::memory_order_release);
        futex_wake(&watch_word_, 1);
      }
    }
    next_poll_ns_ = now_ns() + kBusyPollNs;
    if (n == 0) continue;
    last_work = now_ns();
    if (spinning) continue;
    // Back from sleep. Woken with nothing posted: a read of a run found us asleep, took the
    // kernel and kicked (channel_call); the full spin, for its successors that come within
    // microseconds. Woken by a request sooner than the full spin would have lasted: more.
    if (!find_posted())
      spin_ns = t.server_spin_ns;
    else if (next_poll_ns_ - kBusyPollNs - slept_at < t.server_spin_ns)
      spin_ns = std::min(spin_ns * 4, t.server_spin_ns);
  }
}

// A thread that does not lead: one sleep, as the watcher if nobody watches, and what it was
// woken for.
void Server::help(Worker &w) {
  // Nothing held while asleep: a dropped client's region goes once nobody serves it.
  w.clients.reset();
  int nobody = -1;
  if (can_take_over() && watcher_.compare_exchange_strong(nobody, w.id)) return watch(w);
  uint32_t word = help_word_.load(std::memory_order_acquire);
  helpers_asleep_.fetch_add(1);
  if (!stopping_.load() && !help_wanted_.load()) futex_wait(&help_word_, word, 0);
  helpers_asleep_.fetch_sub(1);
  bool wanted = true;
  if (!stopping_.load() && help_wanted_.compare_exchange_strong(wanted, false)) serve_load(w);
}

// The watcher: looks at an awake leader every kWatchTickNs, and takes the lead from one found
// inside the same request twice. Returns when it leads, on stop, or after it handed the
// watch on (a takeover).
void Server::watch(Worker &w) {
  uint32_t seen_lead = ~0u;
  uint64_t seen_calls = 0;
  while (!stopping_.load(std::memory_order_acquire)) {
    uint32_t word = watch_word_.load(std::memory_order_acquire);
    int64_t asleep = leader_asleep_since_.load(std::memory_order_relaxed);
    if (asleep != 0 && now_ns() - asleep > kWatcherDeepNs) {
      watcher_deep_.store(true);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      if (leader_asleep_since_.load(std::memory_order_relaxed) != 0 && !stopping_.load())
        futex_wait(&watch_word_, word, 0);
      watcher_deep_.store(false);
      seen_lead = ~0u;
      continue;
    }
    futex_wait(&watch_word_, word, kWatchTickNs);
    uint32_t v = lead_.load(std::memory_order_acquire);
    uint64_t calls = lead_calls_.load(std::memory_order_acquire);
    if ((v & kInCall) && v == seen_lead && calls == seen_calls &&
        lead_.compare_exchange_strong(v, static_cast<uint32_t>(w.id))) {
      watcher_.store(-1);
      // Another sleeping helper takes the watch (it finds nothing else to do).
      help_word_.fetch_add(1, std::memory_order_release);
      futex_wake(&help_word_, 1);
      return;  // worker_main: we lead
    }
    seen_lead = v;
    seen_calls = calls;
  }
  watcher_.store(-1);
}

// Asks for one more serving thread: requests are queuing behind the one being served.
void Server::want_help() {
  if (serving_.load(std::memory_order_relaxed) >= max_serving_ ||
      helpers_asleep_.load(std::memory_order_relaxed) == 0 ||
      help_wanted_.load(std::memory_order_relaxed) ||
      ext_.fs.serialize.load(std::memory_order_relaxed))
    return;
  help_wanted_.store(true);
  help_word_.fetch_add(1, std::memory_order_release);
  futex_wake(&help_word_, 1);
}

// A helper woken for load: serves alongside the leader until it finds nothing for a while.
void Server::serve_load(Worker &w) {
  const Tuning &t = tuning();
  serving_.fetch_add(1);
  int64_t last_work = now_ns();
  uint32_t iterations = 0;
  bool leading = false;
  while (!stopping_.load(std::memory_order_relaxed)) {
    if (scan(w, &leading)) {
      last_work = now_ns();
      continue;
    }
    if (t.single_cpu || (++iterations & 63) == 0) sched_yield();
    cpu_relax();
    if ((iterations & 31) == 0 && now_ns() - last_work > kHelperSpinNs) break;
  }
  serving_.fetch_sub(1);
}

// The leader's look at its sockets while busy, at most every kBusyPollNs; false once asked
// to stop.
bool Server::poll_if_due() {
  int64_t now = now_ns();
  if (now < next_poll_ns_) return true;
  next_poll_ns_ = now + kBusyPollNs;
  return poll_events(0) >= 0;
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
  // Woken for anything else the server stays flagged idle (lead() sleeps again): clients
  // keep taking the kernel for reads.
  if (!was_idle)
    maybe_beat(active_);
  else if (for_clients > 0)
    set_idle(0);  // beats too
  return for_clients;
}

// Moves every region's beat word, at most once a millisecond (whichever thread comes first:
// a helper serving a flood while the leader finds nothing left to take beats too).
void Server::maybe_beat(const ClientList &clients) {
  int64_t now = now_ns();
  int64_t next = next_beat_ns_.load(std::memory_order_relaxed);
  if (now < next || !next_beat_ns_.compare_exchange_strong(next, now + kBeatNs)) return;
  const uint32_t forwarded = ext_.kernel.xattrs_forwarded();
  for (auto &c : clients) {
    wire::RegionHeader *h = wire::header_of(c->base());
    h->beat.fetch_add(1, std::memory_order_relaxed);
    tell_forwarded(h, forwarded);
  }
}

// Told at once when learned (a client whose calls all take the kernel while the server
// sleeps would not hear it from the beat), from a libfuse thread; a client adopted meanwhile
// hears it with the next beat.
void Server::tell_xattrs_forwarded() {
  std::shared_ptr<const ClientList> clients = published_.current();
  if (!clients) return;
  const uint32_t forwarded = ext_.kernel.xattrs_forwarded();
  for (auto &c : *clients) tell_forwarded(wire::header_of(c->base()), forwarded);
}

void Server::note_change() {
  ext_.absent_memo.changed();
  std::shared_ptr<const ClientList> clients = published_.current();
  if (!clients) return;
  for (auto &c : *clients)
    wire::header_of(c->base())->changes.fetch_add(1, std::memory_order_seq_cst);
}

// What the kernel was seen asking the file system for (KernelView::note_xattr_request),
// told to a client with the beat.
void Server::tell_forwarded(wire::RegionHeader *h, uint32_t forwarded) {
  if (h->xattrs_forwarded.load(std::memory_order_relaxed) != forwarded)
    h->xattrs_forwarded.store(forwarded, std::memory_order_relaxed);
}

void Server::set_idle(uint32_t v) {
  const uint32_t forwarded = ext_.kernel.xattrs_forwarded();
  for (auto &c : active_) {
    wire::RegionHeader *h = wire::header_of(c->base());
    h->server_idle.store(v);
    h->beat.fetch_add(1, std::memory_order_relaxed);
    tell_forwarded(h, forwarded);
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
  for (auto &u : door_.take_arrivals()) {
    std::shared_ptr<Client> c(std::move(u));
    epoll_watch(epoll_fd_.get(), c->sock, EPOLLIN | EPOLLRDHUP);
    if (c->region.valid()) {
      client = true;
      by_efd_[c->efd.get()] = c.get();
      epoll_watch(epoll_fd_.get(), c->efd.get(), EPOLLIN);
      active_.push_back(c);
    }
    if (c->cred_watch.pidfd >= 0) {
      by_pidfd_[c->cred_watch.pidfd] = c.get();
      epoll_watch(epoll_fd_.get(), c->cred_watch.pidfd, EPOLLIN);
    }
    clients_[c->sock] = std::move(c);
  }
  if (client) publish_clients();
  return client;
}

// Hands the serving threads a new list of the clients with a region (each takes it at its
// next pass; a dropped client lives on until the last thread let go of it).
void Server::publish_clients() {
  published_.publish(std::make_shared<const ClientList>(active_));
}

void Server::drop_client(int fd) {
  auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client *c = it->second.get();
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  if (c->efd.valid()) {
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, c->efd.get(), nullptr);
    by_efd_.erase(c->efd.get());
  }
  if (c->cred_watch.pidfd >= 0) {
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, c->cred_watch.pidfd, nullptr);
    by_pidfd_.erase(c->cred_watch.pidfd);
  }
  for (size_t i = 0; i < active_.size(); i++)
    if (active_[i].get() == c) {
      active_.erase(active_.begin() + static_cast<long>(i));
      publish_clients();
      break;
    }
  {
    // A serving thread may be reading its credentials' pidfd right now.
    std::lock_guard<std::mutex> g(c->mu);
    close_client(*c, ext_.counters, ext_.discard);
  }
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
    std::shared_ptr<const MountView> view = view_.current();
    std::lock_guard<std::mutex> g(mount_mu_);
    rep.info.pid = getpid();
    rep.info.flags = (view->facts.default_permissions ? control::kDefaultPermissions : 0) |
                     (view->facts.allow_other ? control::kAllowOther : 0);
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
    rep.stats.fs_calls = ext_.fs.calls.load(std::memory_order_relaxed);
    rep.stats.wakeups = k.wakeups;
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

// One pass over the clients, serving what they posted; true if there was anything. Any
// serving thread's: each slot goes to the thread that claims it. A leader (*leading) lets
// the watcher take the lead while inside a request, and learns here if it did.
bool Server::scan(Worker &w, bool *leading) {
  const ClientList *clients = published_.take(&w.clients);
  if (clients == nullptr) return false;
  bool found = false;
  int clients_in_pass = 0;
  for (const auto &cp : *clients) {
    Client &c = *cp;
    wire::RegionHeader *h = wire::header_of(c.base());
    int served = 0;
    while (served < kServedPerTurn) {
      // The pending word names the posted slots (bits left from an earlier turn first). One
      // is taken, the rest go back for whoever comes next: another thread may serve them
      // while this one serves its own.
      uint64_t bits = c.carry.exchange(0, std::memory_order_acq_rel);
      if (h->pending.load(std::memory_order_relaxed) != 0)
        bits |= h->pending.exchange(0, std::memory_order_acq_rel);
      if (bits == 0) break;
      // Round robin from the slot after the last one served: no slot waits behind the others.
      uint32_t from = c.next_slot.load(std::memory_order_relaxed) % wire::kSlotCount;
      uint64_t rotated = from ? (bits >> from) | (bits << (64 - from)) : bits;
      uint32_t idx = (static_cast<uint32_t>(__builtin_ctzll(rotated)) + from) % wire::kSlotCount;
      bits &= ~(uint64_t{1} << idx);
      if (bits != 0) c.carry.fetch_or(bits, std::memory_order_acq_rel);
      c.next_slot.store(idx + 1, std::memory_order_relaxed);
      wire::Slot *s = wire::slot_at(c.base(), idx);
      uint32_t expected = wire::kPosted;
      if (s->h.state.load(std::memory_order_relaxed) != wire::kPosted) continue;
      if (!s->h.state.compare_exchange_strong(expected, wire::kClaimed, std::memory_order_acquire))
        continue;
      found = true;
      // Requests posted at once: more of this client's behind this one, or a second client's
      // in the same pass (not one thread's next request: it posts only once answered).
      if (served++ == 0) clients_in_pass++;
      if (bits != 0 || clients_in_pass > 1) want_help();
      if (!*leading) {
        serve_slot(w, c, s);
        continue;
      }
      // Inside the request the lead may be taken (watch()); afterwards it is ours again
      // unless it was.
      uint32_t me = static_cast<uint32_t>(w.id);
      lead_calls_.fetch_add(1, std::memory_order_relaxed);
      lead_.store(me | kInCall, std::memory_order_release);
      serve_slot(w, c, s);
      uint32_t in_call = me | kInCall;
      if (!lead_.compare_exchange_strong(in_call, me, std::memory_order_acq_rel)) {
        *leading = false;
        return true;
      }
      // A pass over clients that keep posting slow requests is long: the sockets meanwhile.
      // (The stop is seen again by lead(): the stop eventfd stays readable.)
      poll_if_due();
    }
    if (served) maybe_beat(*clients);  // many busy clients make a long pass: not stuck
  }
  return found;
}

// Before sleeping, with every region saying so: whether any slot is posted, also one whose
// bit a misbehaving client never set (it is served at its client's next turn). Only looks:
// a request served here, with the regions saying "asleep", would leave every client kicking
// a server stuck in a file-system call instead of seeing its still beat.
bool Server::find_posted() {
  bool found = false;
  for (auto &c : active_) {
    uint64_t bits = 0;
    for (uint32_t i = 0; i < wire::kSlotCount; i++)
      if (wire::slot_at(c->base(), i)->h.state.load(std::memory_order_acquire) == wire::kPosted)
        bits |= uint64_t{1} << i;
    if (bits != 0) c->carry.fetch_or(bits, std::memory_order_acq_rel);
    found = found || bits != 0 || c->carry.load(std::memory_order_relaxed) != 0;
  }
  return found;
}

// The credentials c's request d is served with, or null: the client's credentials or cwd
// are not what the kernel would see (FALLBACK). Its other requests may be served by other
// threads right now.
std::shared_ptr<const Creds> Server::creds_for(Worker &w, Client &c, const MountView &mv,
                                               const Decoded &d) {
  std::lock_guard<std::mutex> g(c.mu);
  if (c.closed || !creds_current(w.cred_counter, &c.creds, &c.cred_watch, mv.access) ||
      !kernel_allows(w, c, mv, d))
    return nullptr;
  if (!c.served_creds || !(*c.served_creds == c.creds))
    c.served_creds = std::make_shared<const Creds>(c.creds);
  return c.served_creds;
}

// Serves decoded request d of client c with creds (null: FALLBACK, nothing done) into out;
// what it holds stays in ctx until release_request, once the client has its answer.
Result Server::serve_decoded(Worker &w, Client &c, const Decoded &d, const Creds *creds,
                             ServeCtx &ctx, ReplyBuf &out) {
  Result result = kToKernel;
  if (creds != nullptr) {
    ctx.pidfd = c.cred_watch.pidfd;
    ctx.listings = &c.listings;
    ctx.listing_budget = &ext_.listing_budget;
    ctx.absent_memo = &ext_.absent_memo;
    ctx.umask = d.req.umask & 0777;
    result = serve_request(ctx, d, out);
  }
  count(static_cast<uint32_t>(d.op), result);
  // The kernel must not answer from stale caches once the client sees our answer, nor
  // other clients from what they learnt of listings before it.
  ctx.inval.send(ext_.fs.session, ext_.kernel, &w.drops);
  if (is_mutation(d.op) && creds != nullptr) note_change();
  return result;
}

void Server::count(uint32_t op, Result result) {
  if (op == 0 || op >= wire::kOpCount) return;
  if (result.to_kernel())
    ext_.counters.fallback[op]++;
  else
    ext_.counters.served[op]++;
}

void Server::release_request(Worker &w, ServeCtx &ctx) {
  ext_.cache.unpin(&ctx.pins, &ctx.forgets);
  forget_all(ctx.forgets);
  // What the kernel revalidates anyway is dropped only now (an eviction and a FORGET for
  // the file system: nothing the client's next kernel call depends on).
  send_deferred(ext_.fs.session, &w.drops);
}

namespace {
// Publishes slot s's answer (its data already written) and wakes a sleeping client.
void publish_answer(wire::Slot *s, Result result, uint32_t rep_len) {
  s->h.result = result.to_wire();
  s->h.rep_len = rep_len;
  s->h.state.store(wire::kDone, std::memory_order_release);
  // Store-load (a release store and a later load may be reordered, on x86 too): the client
  // sets client_sleeping, then re-reads the state; each side needs a full fence in between,
  // or both miss the other and the client sleeps out its 50 ms futex timeout.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (s->h.client_sleeping.load(std::memory_order_seq_cst)) futex_wake(&s->h.state, INT_MAX);
}
}  // namespace

void Server::serve_slot(Worker &w, Client &c, wire::Slot *s) {
  // Copy first: the client may keep writing its slot while we look at it.
  // Each shared field read exactly once: plain reads of memory the client writes meanwhile
  // are a data race the compiler may resolve by reading again after the bounds check.
  uint32_t op = __atomic_load_n(&s->h.op, __ATOMIC_RELAXED);
  uint32_t len = __atomic_load_n(&s->h.req_len, __ATOMIC_RELAXED);
  bool ready =
      ext_.fs.initialized.load(std::memory_order_acquire) && !ext_.challenges.replies_missed();
  follow_mount_changes(w);
  if (ready && mount_view(w).conn_want != ext_.fs.conn_want) refresh_mount();  // INIT came
  const MountView &mv = mount_view(w);  // not taken again below: the reference stays good
  if (ready && len <= wire::kSlotDataSize) memcpy(w.req_copy.data(), s->data, len);
  if (op == static_cast<uint32_t>(wire::Op::kBatch)) {
    serve_batch(w, c, mv, s, ready && len <= wire::kSlotDataSize ? len : 0);
    return;
  }
  wire::Reply rep{};
  Decoded d{};
  std::shared_ptr<const Creds> creds;
  const bool decoded =
      ready && len <= wire::kSlotDataSize && decode_request(op, w.req_copy.data(), len, &d) == 0;
  if (decoded) creds = creds_for(w, c, mv, d);
  ServeCtx ctx{creds.get(), &mv.facts, &ext_.fs, &ext_.kernel, &ext_.cache};
  Result result = kToKernel;
  if (decoded) {
    ReplyBuf out{&rep, reinterpret_cast<char *>(s->data) + sizeof(wire::Reply),
                 wire::kSlotDataSize - sizeof(wire::Reply)};
    result = serve_decoded(w, c, d, creds.get(), ctx, out);
  } else {
    count(op, result);
  }
  memcpy(s->data, &rep, sizeof(rep));
  publish_answer(s, result, static_cast<uint32_t>(sizeof(rep) + rep.data_len));
  release_request(w, ctx);
}

// A multi-call request (wire::kBatch), its len bytes copied to w.req_copy (0: not served):
// each call served as if it came alone, in order; a malformed call and those after it are
// answered FALLBACK (the client makes them itself).
void Server::serve_batch(Worker &w, Client &c, const MountView &mv, wire::Slot *s, size_t len) {
  const uint8_t *data = w.req_copy.data();
  wire::BatchHeader hdr{};
  if (len >= sizeof(hdr)) memcpy(&hdr, data, sizeof(hdr));
  const uint32_t n = len >= sizeof(hdr) && hdr.count <= wire::kBatchMax ? hdr.count : 0;
  size_t at = sizeof(hdr);
  bool intact = true;
  for (uint32_t i = 0; i < n; i++) {
    wire::BatchReply r{wire::kFallback, 0, {}};
    wire::BatchCall call{};
    Decoded d{};
    if (intact && len - at >= sizeof(call)) {
      memcpy(&call, data + at, sizeof(call));
      intact = call.len <= len - at - sizeof(call) && call.op < wire::kOpCount &&
               wire::batchable(static_cast<wire::Op>(call.op)) &&
               decode_request(call.op, data + at + sizeof(call), call.len, &d) == 0;
    } else {
      intact = false;
    }
    if (intact) {
      at += wire::batch_call_size(call.len);
      if (at > len) at = len;
      std::shared_ptr<const Creds> creds = creds_for(w, c, mv, d);
      ServeCtx ctx{creds.get(), &mv.facts, &ext_.fs, &ext_.kernel, &ext_.cache};
      wire::Reply rep{};
      ReplyBuf out{&rep, nullptr, 0};
      Result result = serve_decoded(w, c, d, creds.get(), ctx, out);
      r = {result.to_wire(), rep.hints, rep.attr};
      release_request(w, ctx);
    }
    memcpy(s->data + i * sizeof(r), &r, sizeof(r));
  }
  count(static_cast<uint32_t>(wire::Op::kBatch), n > 0 ? Result(0) : Result(kToKernel));
  publish_answer(s, n > 0 ? Result(0) : Result(kToKernel),
                 static_cast<uint32_t>(n * sizeof(wire::BatchReply)));
}

}  // namespace finesse::server
