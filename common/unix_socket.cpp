#include "unix_socket.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>

namespace finesse {

namespace {
bool fill_addr(const char *path, sockaddr_un *addr) {
  size_t n = strlen(path);
  if (n >= sizeof(addr->sun_path)) return false;
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, path, n + 1);
  return true;
}
}  // namespace

int unix_connect(const char *path) {
  sockaddr_un addr;
  if (!fill_addr(path, &addr)) return -ENAMETOOLONG;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

int unix_listen(const std::string &path, int backlog) {
  sockaddr_un addr;
  if (!fill_addr(path.c_str(), &addr)) return -ENAMETOOLONG;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -errno;
  unlink(path.c_str());
  if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) < 0 || listen(fd, backlog) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

int send_msg(int sock, const void *buf, size_t len, const int *fds, int nfds) {
  iovec iov{const_cast<void *>(buf), len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char ctrl[CMSG_SPACE(2 * sizeof(int))];
  if (nfds > 0) {
    msg.msg_control = ctrl;
    msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
  }
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  return n == static_cast<ssize_t>(len) ? 0 : -EIO;
}

ssize_t recv_msg(int sock, void *buf, size_t len, int *fds, int max_fds, int *nfds) {
  iovec iov{buf, len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char ctrl[CMSG_SPACE(4 * sizeof(int))];
  msg.msg_control = ctrl;
  msg.msg_controllen = sizeof(ctrl);
  if (nfds) *nfds = 0;
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int count = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    int got[4];
    memcpy(got, CMSG_DATA(c), count * sizeof(int));
    for (int i = 0; i < count; i++) {
      if (fds != nullptr && nfds != nullptr && *nfds < max_fds) {
        fds[(*nfds)++] = got[i];
      } else {
        close(got[i]);  // more than the caller asked for: never leak them
      }
    }
  }
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return -EMSGSIZE;
  return n;
}

int peer_pid(int sock, pid_t *out) {
  ucred uc;
  socklen_t len = sizeof(uc);
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) return -errno;
  *out = uc.pid;
  return 0;
}

}  // namespace finesse
