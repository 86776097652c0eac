// Receiving from clients without ever blocking on what they send. A client may attach file
// descriptors to any message; the server wants none, but whoever drops the last reference to
// a file runs its release, and some releases block for as long as the sender likes (a TCP
// socket with SO_LINGER whose peer never reads, a file on a FUSE mount whose daemon never
// answers FLUSH). Such descriptors are therefore always received (never left to the kernel
// to drop in the server thread) and closed by a separate thread.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>

namespace finesse::server {

class FdDiscard {
 public:
  // recvmsg without waiting; descriptors attached to the message go to the closing thread.
  // Returns the message length, 0 on hang-up, or -errno. *had_fds: some were attached.
  ssize_t recv(int sock, void *buf, size_t len, bool *had_fds);

  // Closes a client socket: first stops the peer from sending and takes what it already
  // sent (with its descriptors) out of the queue, which closing the socket would otherwise
  // drop here.
  void close_socket(int sock);

 private:
  void close_later(const int *fds, int n);
  void closer();

  // The closing thread, started on first use (and again in a forked child) and detached: a
  // close it is stuck in must not hold up the daemon's exit.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int> to_close_;
  pid_t closer_pid_ = -1;  // the process whose closing thread runs (none after a fork)
};

}  // namespace finesse::server
