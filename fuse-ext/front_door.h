// The server's front door: its own thread accepts connections on the server socket, caps
// them per user, and does the handshake (admission, region). Welcomed connections are handed
// to the serving thread, which is all the front door has to wait for: a serving thread stuck
// in a file-system call that does not return still lets new clients in (they see its still
// beat and use the kernel meanwhile), and a flood of requests keeps nobody waiting outside.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "client_conn.h"
#include "counters.h"
#include "cred_watch.h"
#include "fd_discard.h"
#include "kernel_view.h"
#include "unique_fd.h"

namespace finesse::server {

class FrontDoor {
 public:
  FrontDoor(Counters &counters, const KernelView &kernel, FdDiscard &discard)
      : counters_(counters), kernel_(kernel), discard_(discard) {}

  // Takes connections on listen_fd until stop_fd becomes readable (it is not read: the
  // serving thread watches it too). Tells the serving thread of arrivals by arrival_fd
  // (an eventfd). Returns 0 or -errno.
  int start(int listen_fd, int stop_fd, int arrival_fd);
  void stop();  // after stop_fd was signalled; closes connections not yet handed over

  // Connections welcomed since the last call (served, not served, or control).
  std::vector<std::unique_ptr<Client>> take_arrivals();
  // A handed-over connection of this peer uid was closed.
  void left(uid_t uid);
  // Who the mount admits (refreshed by the serving thread when the mount changes).
  void set_access(const MountAccess &a);

 private:
  void run();
  void accept_all();
  void on_hello(int fd);
  void drop(int fd);
  void hand_over(int fd);
  std::string admit(Client &c);

  Counters &counters_;
  const KernelView &kernel_;
  FdDiscard &discard_;
  int listen_fd_ = -1, stop_fd_ = -1, arrival_fd_ = -1;  // the Server's
  UniqueFd epoll_fd_;
  std::thread thread_;
  std::unordered_map<int, std::unique_ptr<Client>> greeting_;  // by socket fd: no hello yet
  std::mutex mu_;                                              // guards what follows
  std::vector<std::unique_ptr<Client>> arrivals_;
  std::unordered_map<uid_t, int> per_user_;  // connections held, by peer uid
  size_t open_ = 0;
  MountAccess access_{};
};

}  // namespace finesse::server
