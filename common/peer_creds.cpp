// peer_creds (unix_socket.h): apart from the rest, which the client links without the C++
// runtime (the group list is a std::vector).
#include <sys/socket.h>

#include <cerrno>

#include "unix_socket.h"

namespace finesse {

int peer_creds(int sock, PeerCreds *out) {
  ucred uc;
  socklen_t len = sizeof(uc);
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) return -errno;
  out->pid = uc.pid;
  out->euid = uc.uid;
  out->egid = uc.gid;
  gid_t groups[256];
  len = sizeof(groups);
  if (getsockopt(sock, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) return -errno;
  out->groups.assign(groups, groups + len / sizeof(gid_t));
  return 0;
}

}  // namespace finesse
