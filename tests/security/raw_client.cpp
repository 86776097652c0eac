#include "raw_client.h"

#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

#include "loader.h"
#include "unix_socket.h"

namespace finesse::testing {

std::string server_socket_of(const std::string &mnt) {
  std::vector<loader::AttachedMount> all;
  loader::list_attached(&all);
  for (const auto &a : all)
    if (mnt == a.entry.mount_path) return a.entry.socket_path;
  return "";
}

int RawClient::connect(const std::string &socket_path) {
  sock = unix_connect(socket_path.c_str());
  if (sock < 0) return sock;
  wire::Hello h{wire::kMagic, wire::kVersion, wire::HelloKind::kClient, 0};
  if (int rc = send_msg(sock, &h, sizeof(h), nullptr, 0); rc < 0) return rc;
  wire::Welcome w{};
  int fds[2] = {-1, -1}, nfds = 0;
  pollfd p{sock, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1) return -ETIMEDOUT;
  ssize_t n = recv_msg(sock, &w, sizeof(w), fds, 2, &nfds);
  if (n != static_cast<ssize_t>(sizeof(w))) return n < 0 ? static_cast<int>(n) : -EPROTO;
  status = w.status;
  if (status != wire::HelloStatus::kServed) return 0;
  if (nfds != 2) return -EPROTO;
  memfd = fds[0];
  efd = fds[1];
  void *r = mmap(nullptr, wire::kRegionSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (r == MAP_FAILED) return -errno;
  region = r;
  return 0;
}

RawClient::~RawClient() {
  if (region != nullptr) munmap(region, wire::kRegionSize);
  for (int fd : {sock, efd, memfd})
    if (fd >= 0) close(fd);
}

void RawClient::post(uint32_t i) {
  slot(i)->h.state.store(wire::kPosted, std::memory_order_seq_cst);
  wire::header_of(region)->pending.fetch_or(uint64_t{1} << (i % 64));
  uint64_t one = 1;
  if (write(efd, &one, sizeof(one)) < 0) { /* the server also polls */
  }
}

bool RawClient::wait_done(uint32_t i, int timeout_ms) const {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (slot(i)->h.state.load(std::memory_order_acquire) != wire::kDone) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

void RawClient::put_request(uint32_t i, wire::Op op, const wire::Request &req,
                            const std::string &p0, const std::string &p1, const std::string &name) {
  wire::Slot *s = slot(i);
  wire::Request r = req;
  size_t at = sizeof(wire::Request);
  auto put = [&](const std::string &str, wire::StrRef *ref) {
    ref->off = static_cast<uint32_t>(at);
    ref->len = static_cast<uint32_t>(str.size());
    memcpy(s->data + at, str.data(), str.size());
    s->data[at + str.size()] = '\0';
    at += str.size() + 1;
  };
  put(p0, &r.path[0].path);
  put(p1, &r.path[1].path);
  put(name, &r.name);
  memcpy(s->data, &r, sizeof(r));
  s->h.op = static_cast<uint32_t>(op);
  s->h.req_len = static_cast<uint32_t>(at);
}

}  // namespace finesse::testing
