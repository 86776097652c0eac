// Unix-socket helpers: SOCK_SEQPACKET connect/listen, messages with SCM_RIGHTS, peer creds.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

namespace finesse {

// Returns a connected CLOEXEC SOCK_SEQPACKET socket or -errno.
int unix_connect(const char *path);
// Binds and listens (non-blocking, CLOEXEC) at path, replacing a stale socket; -errno on error.
int unix_listen(const std::string &path, int backlog);

// Sends one message with up to 2 fds attached. Returns 0 or -errno.
int send_msg(int sock, const void *buf, size_t len, const int *fds, int nfds);
// Receives one message; fds receives up to max_fds descriptors (CLOEXEC). Returns bytes or
// -errno; 0 on hang-up.
ssize_t recv_msg(int sock, void *buf, size_t len, int *fds, int max_fds, int *nfds);

struct PeerCreds {
  pid_t pid = -1;
  uid_t euid = static_cast<uid_t>(-1);
  gid_t egid = static_cast<gid_t>(-1);
  std::vector<gid_t> groups;
};
// SO_PEERCRED and SO_PEERGROUPS: what the peer had at connect() time. Returns 0 or -errno.
int peer_creds(int sock, PeerCreds *out);
// SO_PEERCRED's pid alone (no allocation). Returns 0 or -errno.
int peer_pid(int sock, pid_t *out);

}  // namespace finesse
