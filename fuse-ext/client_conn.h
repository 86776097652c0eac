// One connection to the server, as the front door (handshake) and the serving thread
// (requests, control) know it.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "counters.h"
#include "cred_watch.h"
#include "creds.h"
#include "fd_discard.h"
#include "kernel_watch.h"

namespace finesse::server {

struct Client {
  int sock = -1;
  int efd = -1;
  void *region = nullptr;
  bool control = false;
  uid_t peer_uid = 0;      // SO_PEERCRED at accept: connections are capped per user
  int64_t accepted_boot_ns = 0;  // CLOCK_BOOTTIME at accept (front_door.cpp: pidfd_open)
  uint64_t carry = 0;      // posted slots seen but left for this client's next turn
  uint32_t next_slot = 0;  // where its next turn starts
  Creds creds;
  CredWatch cred_watch;  // keeps creds current (cred_watch.h)
  CwdCheck cwd_check;    // the client's real cwd, last checked (kernel_watch.h)
};

// Unmaps a client's region (waking its waiters: the region says closed) and closes its fds
// (also cred_watch.pidfd, the socket through discard); a client with a region leaves
// counters.clients_active.
void close_client(Client &c, Counters &counters, FdDiscard &discard);

}  // namespace finesse::server
