// The bypass server inside the file system's process: a Unix socket where clients connect
// and get a private shared-memory region (the front door's thread: front_door.h), and one
// serving thread that polls the regions' slots, serves requests through the handlers,
// answers control requests, and sleeps on epoll when idle. Part of the Extension
// (extension.h), whose state it uses.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "client_conn.h"
#include "front_door.h"
#include "kernel_view.h"
#include "kernel_watch.h"
#include "mount_info.h"
#include "request_decode.h"
#include "serve_ctx.h"
#include "unique_fd.h"
#include "wire.h"

namespace finesse::server {

struct Extension;

class Server {
 public:
  explicit Server(Extension &ext);
  Server(const Server &) = delete;
  Server &operator=(const Server &) = delete;

  // Starts serving the mount (idempotent). Returns 0 or -errno; failures leave the file
  // system working without a bypass.
  int start(const std::string &mountpoint);
  // Stops serving: every client falls back, the socket goes away, cached lookups are
  // forgotten.
  void stop();
  bool running() const { return thread_.joinable(); }

 private:
  void run();
  int poll_events(int timeout, bool was_idle = false);
  bool handle_event(int fd, uint32_t events);
  bool adopt_arrivals();
  void drop_client(int fd);
  void on_control(Client &c);
  MountAccess mount_access() const { return {facts_.allow_other, mount_.user_id, mount_.group_id}; }
  bool scan();
  bool find_posted();
  void serve_slot(Client &c, wire::Slot *s);
  void refresh_mount();
  bool mount_current();
  bool kernel_allows(Client &c, const Decoded &d);
  void set_idle(uint32_t v);
  void maybe_beat();
  void close_all();
  void forget_all(const std::vector<Forget> &forgets);

  Extension &ext_;
  std::string mountpoint_;
  std::string socket_path_;
  UniqueFd listen_fd_;
  UniqueFd epoll_fd_;
  UniqueFd stop_fd_;
  UniqueFd mountinfo_fd_;
  UniqueFd arrival_fd_;  // the front door has handed over connections
  FrontDoor door_;
  std::thread thread_;
  std::unordered_map<int, std::unique_ptr<Client>> clients_;  // by socket fd
  std::unordered_map<int, Client *> by_efd_;
  std::unordered_map<int, Client *> by_pidfd_;  // the connecting process: dropped when it exits
  std::vector<Client *> active_;                // clients with a region
  MountInfo mount_;
  MountFacts facts_;
  KernelWatch kernel_;        // cwd, watch and mount-change counters (kernel_watch.h)
  CredCounter cred_counter_;  // the clients' credential-change counters (cred_watch.h)
  uint64_t own_mnt_id_ = 0;   // the mount we serve, as first found in mountinfo
  bool mount_ok_ = false;     // it is there and not hidden by another mount
  uint64_t mount_gen_ = 0;    // mount-change counter at the last look at mountinfo
  uint32_t mount_gen_source_ = 0;
  std::vector<uint8_t> req_copy_ = std::vector<uint8_t>(wire::kSlotDataSize);
  DeferredDrops drops_;       // kernel dentries to drop once the client has its answer
  int64_t next_beat_ns_ = 0;  // when the regions' beat words move next (wire.h)
};

}  // namespace finesse::server
