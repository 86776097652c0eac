#include "front_door.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "epoll_watch.h"
#include "fd_discard.h"
#include "futex.h"
#include "kernel_view.h"
#include "unix_socket.h"
#include "wire.h"

namespace finesse::server {

namespace {

// One user may hold at most this many of the 4096 connections (root: any number), so that
// no user can take them all and leave everyone else to the kernel path.
constexpr size_t kMaxClients = 4096;
constexpr int kMaxClientsPerUser = 1024;

// Sends the welcome w with a sealed 0600 region and its eventfd, for a client just
// admitted; the region says which xattr names the kernel hands the file system
// (`forwarded`). False on failure.
bool make_region(Client &c, const wire::Welcome &w, uint32_t forwarded) {
  int memfd = memfd_create("finesse-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  // 0600: memfds start as 0777, and /proc/<pid>/fd/N reopens by the inode's mode.
  if (memfd < 0 || fchmod(memfd, 0600) < 0 || ftruncate(memfd, wire::kRegionSize) < 0 ||
      fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
    if (memfd >= 0) close(memfd);
    return false;
  }
  void *region = mmap(nullptr, wire::kRegionSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int fds[2] = {memfd, efd};
  if (region != MAP_FAILED && efd >= 0) {
    wire::RegionHeader *hdr = wire::header_of(region);
    hdr->magic = wire::kMagic;
    hdr->version = wire::kVersion;
    hdr->slot_count = wire::kSlotCount;
    hdr->slot_size = wire::kSlotSize;
    hdr->xattrs_forwarded.store(forwarded, std::memory_order_relaxed);
  }
  bool ok = region != MAP_FAILED && efd >= 0 && send_msg(c.sock, &w, sizeof(w), fds, 2) >= 0;
  close(memfd);  // the mapping stays; the client has its own fd
  if (!ok) {
    if (region != MAP_FAILED) munmap(region, wire::kRegionSize);
    if (efd >= 0) close(efd);
    return false;
  }
  c.region = Mapping(region, wire::kRegionSize);
  c.efd.reset(efd);
  return true;
}

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

int64_t boot_ns() {
  timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

// When the process of pid started (/proc/<pid>/stat field 22), in ns since boot; -1 if unknown.
int64_t start_boot_ns(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char *p = strrchr(buf, ')');  // the command name may hold anything but ends there
  if (p == nullptr) return -1;
  unsigned long long ticks = 0;
  // After the name: state (field 3) ... starttime (field 22).
  if (sscanf(p + 1,
             " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
             &ticks) != 1)
    return -1;
  long hz = sysconf(_SC_CLK_TCK);
  return hz > 0 ? static_cast<int64_t>(ticks) * (1'000'000'000LL / hz) : -1;
}

// A pidfd of the process that connected, or -1. SO_PEERPIDFD (Linux 6.5) names it exactly.
// Older kernels: pidfd_open of SO_PEERCRED's pid, which another process may hold by now if
// the connecting one exited; one that started after the accept surely is not it (what is
// left: a pid reused between connect and accept).
int peer_pidfd(int sock, pid_t pid, int64_t accepted_boot_ns) {
  int fd = -1;
  socklen_t len = sizeof(fd);
  if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) == 0) return fd;
  if (errno != ENOPROTOOPT) return -1;  // e.g. the peer is gone
  fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return -1;
  int64_t started = start_boot_ns(pid);
  if (started < 0 || started > accepted_boot_ns || process_gone(fd)) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

void close_client(Client &c, Counters &counters, FdDiscard &discard) {
  if (c.closed) return;
  c.closed = true;
  if (c.region.valid()) {
    wire::header_of(c.base())->closed.store(1);
    for (uint32_t i = 0; i < wire::kSlotCount; i++)
      futex_wake(&wire::slot_at(c.base(), i)->h.state, INT_MAX);
    counters.clients_active--;
  }
  c.listings.clear();
  c.efd.reset();
  if (c.sock >= 0) discard.close_socket(c.sock);
  c.sock = -1;
}

int FrontDoor::start(int listen_fd, int stop_fd, int arrival_fd) {
  listen_fd_ = listen_fd;
  stop_fd_ = stop_fd;
  arrival_fd_ = arrival_fd;
  epoll_fd_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd_.valid()) return -errno;
  epoll_watch(epoll_fd_.get(), listen_fd_, EPOLLIN);
  epoll_watch(epoll_fd_.get(), stop_fd_, EPOLLIN);
  thread_ = std::thread([this] { run(); });
  return 0;
}

void FrontDoor::stop() {
  if (thread_.joinable()) thread_.join();
  std::vector<int> fds;
  for (auto &[fd, c] : greeting_) fds.push_back(fd);
  for (int fd : fds) drop(fd);
  for (auto &c : take_arrivals()) {
    close_client(*c, counters_, discard_);
    left(c->peer_uid);
  }
  epoll_fd_.reset();
}

void FrontDoor::run() {
  epoll_event events[32];
  for (;;) {
    int n = epoll_wait(epoll_fd_.get(), events, 32, -1);
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == stop_fd_) return;
      if (fd == listen_fd_) {
        accept_all();
      } else if (events[i].events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
        drop(fd);
      } else {
        on_hello(fd);
      }
    }
  }
}

void FrontDoor::accept_all() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    PeerCreds pc;
    uid_t uid = peer_creds(fd, &pc) == 0 ? pc.euid : static_cast<uid_t>(-1);
    {
      std::lock_guard<std::mutex> g(mu_);
      if (open_ >= kMaxClients || (uid != 0 && per_user_[uid] >= kMaxClientsPerUser)) {
        discard_.close_socket(fd);
        continue;
      }
      per_user_[uid]++;
      open_++;
    }
    auto c = std::make_unique<Client>();
    c->accepted_boot_ns = boot_ns();
    c->sock = fd;
    c->peer_uid = uid;
    greeting_[fd] = std::move(c);
    epoll_watch(epoll_fd_.get(), fd, EPOLLIN | EPOLLRDHUP);
  }
}

void FrontDoor::drop(int fd) {
  auto it = greeting_.find(fd);
  if (it == greeting_.end()) return;
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  close_client(*it->second, counters_, discard_);
  left(it->second->peer_uid);
  greeting_.erase(it);
}

void FrontDoor::left(uid_t uid) {
  std::lock_guard<std::mutex> g(mu_);
  if (--per_user_[uid] <= 0) per_user_.erase(uid);
  open_--;
}

void FrontDoor::set_access(const MountAccess &a) {
  std::lock_guard<std::mutex> g(mu_);
  access_ = a;
}

std::vector<std::unique_ptr<Client>> FrontDoor::take_arrivals() {
  std::lock_guard<std::mutex> g(mu_);
  return std::move(arrivals_);
}

void FrontDoor::hand_over(int fd) {
  auto it = greeting_.find(fd);
  epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  {
    std::lock_guard<std::mutex> g(mu_);
    arrivals_.push_back(std::move(it->second));
  }
  greeting_.erase(it);
  uint64_t one = 1;
  if (write(arrival_fd_, &one, sizeof(one)) < 0) { /* already signalled */
  }
}

// Whether this client may be served at all (else it uses the kernel for this mount).
std::string FrontDoor::admit(Client &c) {
  PeerCreds pc;
  if (peer_creds(c.sock, &pc) < 0) return "no peer credentials";
  c.creds.groups = pc.groups;
  c.cred_watch.pidfd = peer_pidfd(c.sock, pc.pid, c.accepted_boot_ns);
  if (c.cred_watch.pidfd < 0) return "connecting process unknown or gone";
  std::string why = load_status_creds(pc.pid, pc.euid, pc.egid, &c.creds);
  if (!why.empty()) return why;
  // After the read, as for every re-read (cred_watch.cpp): /proc/<pid> was its process.
  if (process_gone(c.cred_watch.pidfd)) return "connecting process gone";
  c.cred_watch.admitted = c.creds;
  c.cred_watch.have_admitted = true;
  MountAccess a;
  {
    std::lock_guard<std::mutex> g(mu_);
    a = access_;
  }
  if (!mount_admits(c.creds, a)) return "not the mount owner and no allow_other";
  return "";
}

void FrontDoor::on_hello(int fd) {
  auto it = greeting_.find(fd);
  if (it == greeting_.end()) return;
  Client &c = *it->second;
  wire::Hello h{};
  bool had_fds;
  ssize_t n = discard_.recv(c.sock, &h, sizeof(h), &had_fds);
  if (n == -EAGAIN) return;
  if (n <= 0 || had_fds) return drop(fd);
  wire::Welcome w{wire::kMagic, wire::kVersion, wire::HelloStatus::kServed, wire::kSlotCount,
                  wire::kRegionSize};
  if (n != sizeof(h) || h.magic != wire::kMagic || h.version != wire::kVersion) {
    w.status = wire::HelloStatus::kBadVersion;
    send_msg(c.sock, &w, sizeof(w), nullptr, 0);
    return drop(fd);
  }
  if (h.kind == wire::HelloKind::kControl) {
    c.control = true;
    PeerCreds pc;
    c.creds.uid = peer_creds(c.sock, &pc) == 0 ? pc.euid : static_cast<uid_t>(-1);
    send_msg(c.sock, &w, sizeof(w), nullptr, 0);
    return hand_over(fd);
  }
  if (!admit(c).empty()) {
    if (c.cred_watch.pidfd >= 0) close(c.cred_watch.pidfd);
    c.cred_watch.pidfd = -1;
    w.status = wire::HelloStatus::kNotServed;
    send_msg(c.sock, &w, sizeof(w), nullptr, 0);
    return hand_over(fd);  // stays connected so the client keeps its answer
  }
  // What a stat answer would tell the client, told now: its first fstat of a file it opened
  // goes to the kernel's cached attributes without looking the fd up.
  if (kernel_.caches_attrs()) w.hints |= wire::kHintKernelCachesAttrs;
  if (!make_region(c, w, kernel_.xattrs_forwarded())) return drop(fd);
  counters_.clients_total++;
  counters_.clients_active++;
  hand_over(fd);
}

}  // namespace finesse::server
