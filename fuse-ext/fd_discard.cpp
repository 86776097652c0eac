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

}  // namespace

void FdDiscard::closer() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return !to_close_.empty(); });
    int fd = to_close_.front();
    to_close_.pop_front();
    lock.unlock();
    close(fd);  // may block: only this thread waits
    lock.lock();
  }
}

void FdDiscard::close_later(const int *fds, int n) {
  std::lock_guard<std::mutex> g(mu_);
  if (closer_pid_ != getpid()) {
    closer_pid_ = getpid();
    std::thread([this] { closer(); }).detach();
  }
  for (int i = 0; i < n; i++) to_close_.push_back(fds[i]);
  cv_.notify_one();
}

ssize_t FdDiscard::recv(int sock, void *buf, size_t len, bool *had_fds) {
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

void FdDiscard::close_socket(int sock) {
  // After SHUT_RDWR the peer's sends fail (unix sockets shut the peer's sending side too).
  shutdown(sock, SHUT_RDWR);
  char junk[256];
  bool had_fds;
  for (int i = 0; i < 4096 && recv(sock, junk, sizeof(junk), &had_fds) > 0; i++) {
  }
  close(sock);
}

}  // namespace finesse::server
