#include "fd_discard.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace finesse::server {

namespace {

constexpr int kMaxFdsPerMessage = 253;  // SCM_MAX_FD

std::mutex g_mu;
std::condition_variable g_cv;
std::deque<int> g_to_close;
pid_t g_closer_pid = -1;  // the process whose closing thread runs (none after a fork)

void closer() {
  std::unique_lock<std::mutex> lock(g_mu);
  for (;;) {
    g_cv.wait(lock, [] { return !g_to_close.empty(); });
    int fd = g_to_close.front();
    g_to_close.pop_front();
    lock.unlock();
    close(fd);  // may block: only this thread waits
    lock.lock();
  }
}

void close_later(const int *fds, int n) {
  std::lock_guard<std::mutex> g(g_mu);
  if (g_closer_pid != getpid()) {
    g_closer_pid = getpid();
    std::thread(closer).detach();
  }
  for (int i = 0; i < n; i++) g_to_close.push_back(fds[i]);
  g_cv.notify_one();
}

}  // namespace

ssize_t recv_discarding_fds(int sock, void *buf, size_t len, bool *had_fds) {
  iovec iov{buf, len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char ctrl[CMSG_SPACE(kMaxFdsPerMessage * sizeof(int))];
  msg.msg_control = ctrl;
  msg.msg_controllen = sizeof(ctrl);
  *had_fds = false;
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int fds[kMaxFdsPerMessage];
    int count = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    if (count > kMaxFdsPerMessage) count = kMaxFdsPerMessage;
    memcpy(fds, CMSG_DATA(c), count * sizeof(int));
    close_later(fds, count);
    *had_fds = true;
  }
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return -EMSGSIZE;
  return n;
}

void close_client_socket(int sock) {
  // After SHUT_RDWR the peer's sends fail (unix sockets shut the peer's sending side too).
  shutdown(sock, SHUT_RDWR);
  char junk[256];
  bool had_fds;
  for (int i = 0; i < 4096 && recv_discarding_fds(sock, junk, sizeof(junk), &had_fds) > 0; i++) {
  }
  close(sock);
}

}  // namespace finesse::server
