// One connection to the server, as the front door (handshake) and the serving threads
// (requests, control) know it. Shared by the serving threads that may be serving one of its
// requests (std::shared_ptr): its region stays mapped until the last of them lets go, though
// the connection was closed (close_client) long before.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "counters.h"
#include "cred_watch.h"
#include "creds.h"
#include "dir_listing.h"
#include "fd_discard.h"
#include "kernel_watch.h"
#include "mapping.h"
#include "unique_fd.h"

namespace finesse::server {

struct Client {
  int sock = -1;  // closed through FdDiscard (close_client)
  UniqueFd efd;   // the client's kicks
  Mapping region;
  bool control = false;
  bool closed = false;
  uid_t peer_uid = 0;      // SO_PEERCRED at accept: connections are capped per user
  int64_t accepted_boot_ns = 0;  // CLOCK_BOOTTIME at accept (front_door.cpp: pidfd_open)
  // Posted slots seen but left for a later turn (by any serving thread).
  std::atomic<uint64_t> carry{0};
  std::atomic<uint32_t> next_slot{0};  // where the next turn starts

  // What follows is the serving threads', under mu (Server::serve_slot).
  std::mutex mu;
  Creds creds;
  CredWatch cred_watch;  // keeps creds current (cred_watch.h)
  CwdCheck cwd_check;    // the client's real cwd, last checked (kernel_watch.h)
  // creds as served: a re-read makes a new one, requests in flight keep theirs.
  std::shared_ptr<const Creds> served_creds;

  Listings listings;  // directory listings it has not fetched to their end (own lock)

  Client() = default;
  Client(const Client &) = delete;
  Client &operator=(const Client &) = delete;
  // The pidfd goes last: a serving thread may be asking it whether the process lives.
  ~Client() {
    if (cred_watch.pidfd >= 0) ::close(cred_watch.pidfd);
  }

  void *base() const { return region.get(); }
};

// Closes a client: its region says closed (waking its waiters) and its kick eventfd and
// socket (through discard) close; a client with a region leaves counters.clients_active.
// The region and cred_watch.pidfd go with the object.
void close_client(Client &c, Counters &counters, FdDiscard &discard);

}  // namespace finesse::server
