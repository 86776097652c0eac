// The bypass server inside the file system's process: a Unix socket where clients connect
// and get a private shared-memory region (the front door's thread: front_door.h), and a pool
// of serving threads. Part of the Extension (extension.h), whose state it uses.
//
// The pool. One thread at a time leads: it polls the regions' slots and serves what it finds,
// watches the sockets (kicks, arrivals, control requests, hang-ups), moves the regions' beat
// and idle words, and sleeps on epoll when there is nothing to do. The other threads sleep
// on futexes until they are wanted:
//  - for load: a leader that finds requests queued behind the one it takes wakes a helper,
//    which serves alongside it (each slot is claimed by one thread) until it finds nothing
//    for a while. At most as many threads serve at once as the process may use CPUs: on two,
//    a third spinning thread would take a CPU from a client.
//  - for a call stuck in the file system: one sleeping helper, the watcher, looks every
//    kWatchTickNs while the leader is awake. A leader found inside the same call at two looks
//    loses the lead to the watcher, so that one call blocked in the file system holds only
//    its own request; its thread becomes a helper once the call returns.
// A single-threaded file system (FsState::serialize) gets neither: each op waits for the one
// before it anyway.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "client_conn.h"
#include "cred_watch.h"
#include "front_door.h"
#include "handlers.h"
#include "kernel_view.h"
#include "kernel_watch.h"
#include "mount_info.h"
#include "published.h"
#include "request_decode.h"
#include "serve_ctx.h"
#include "unique_fd.h"
#include "wire.h"

namespace finesse::server {

struct Extension;

// What the serving threads know of the mount: replaced whole when it changes.
struct MountView {
  MountFacts facts;
  MountAccess access;
  uint32_t kernel_dev = 0;
  uint64_t mnt_id = 0;     // the mount we serve, as first found in mountinfo
  bool ok = false;         // it is there and not hidden by another mount
  unsigned conn_want = 0;  // the file system's INIT choices, as folded into facts
};

using ClientList = std::vector<std::shared_ptr<Client>>;

// One serving thread and what only it uses.
struct Worker {
  int id = 0;
  std::thread thread;
  std::vector<uint8_t> req_copy = std::vector<uint8_t>(wire::kSlotDataSize);
  DeferredDrops drops;       // kernel dentries to drop once the client has its answer
  CredCounter cred_counter;  // the clients' credential-change counters (cred_watch.h)
  KernelWatch kernel;        // cwd, watch and mount-change counters (kernel_watch.h)
  uint64_t mount_gen = 0;    // mount-change counter at this thread's last look
  uint32_t mount_gen_source = 0;
  Published<ClientList>::Copy clients;  // the clients as last taken
  Published<MountView>::Copy mount;     // the mount as last taken
};

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
  bool running() const { return !workers_.empty(); }
  // The kernel was seen handing the file system a new xattr name (KernelView): tells every
  // client now.
  void tell_xattrs_forwarded();
  // The file system changed (or may have): every client's RegionHeader::changes moves. Called
  // after the change is made and before it is answered, from any thread.
  void note_change();

 private:
  // The pool (see above).
  void worker_main(Worker &w);
  void lead(Worker &w);
  void help(Worker &w);
  void watch(Worker &w);
  void serve_load(Worker &w);
  void want_help();
  bool leads(const Worker &w) const;
  bool can_take_over() const;

  // The leader's: sockets, clients, beat and idle words.
  int poll_events(int timeout, bool was_idle = false);
  bool poll_if_due();
  bool handle_event(int fd, uint32_t events);
  bool adopt_arrivals();
  void drop_client(int fd);
  void publish_clients();
  void on_control(Client &c);
  void set_idle(uint32_t v);
  void close_all();
  bool find_posted();

  // Every serving thread's.
  bool scan(Worker &w, bool *leading);
  void maybe_beat(const ClientList &clients);
  static void tell_forwarded(wire::RegionHeader *h, uint32_t forwarded);
  void serve_slot(Worker &w, Client &c, wire::Slot *s);
  void serve_batch(Worker &w, Client &c, const MountView &mv, wire::Slot *s, size_t len);
  std::shared_ptr<const Creds> creds_for(Worker &w, Client &c, const MountView &mv,
                                         const Decoded &d);
  Result serve_decoded(Worker &w, Client &c, const Decoded &d, const Creds *creds, ServeCtx &ctx,
                       ReplyBuf &out);
  void release_request(Worker &w, ServeCtx &ctx);
  void count(uint32_t op, Result result);
  const MountView &mount_view(Worker &w);
  void refresh_mount();
  void follow_mount_changes(Worker &w);
  bool kernel_allows(Worker &w, Client &c, const MountView &mv, const Decoded &d);
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
  std::vector<std::unique_ptr<Worker>> workers_;
  int max_serving_ = 1;  // threads serving at once, the leader included

  // Leadership: the leader's id, with kInCall set while it is inside a request (the watcher
  // may take it then). lead_calls_ counts the leader's requests (the watcher's clock).
  std::atomic<uint32_t> lead_{0};
  std::atomic<uint64_t> lead_calls_{0};
  std::atomic<int64_t> leader_asleep_since_{0};  // 0: the leader is awake
  std::atomic<bool> stopping_{false};
  // Helpers sleep on help_word_ (the watcher on watch_word_); a bump and a wake sends one.
  std::atomic<uint32_t> help_word_{0};
  std::atomic<uint32_t> watch_word_{0};
  std::atomic<int> helpers_asleep_{0};
  std::atomic<int> watcher_{-1};           // the watching helper's id
  std::atomic<bool> watcher_deep_{false};  // asleep until the leader wakes
  std::atomic<int> serving_{1};            // threads serving now (the leader counts)
  std::atomic<bool> help_wanted_{false};

  // The leader's: the clients (by socket, kick eventfd, pidfd), published to every thread
  // as an immutable list.
  std::unordered_map<int, std::shared_ptr<Client>> clients_;
  std::unordered_map<int, Client *> by_efd_;
  std::unordered_map<int, Client *> by_pidfd_;  // the connecting process: dropped when it exits
  ClientList active_;                           // clients with a region
  int64_t next_poll_ns_ = 0;                    // when a busy leader looks at its sockets
  Published<ClientList> published_;

  std::mutex mount_mu_;  // guards mount_, own_mnt_id_, nested_
  MountInfo mount_;
  std::unordered_set<std::string> nested_;  // the mounts below ours last seen
  uint64_t own_mnt_id_ = 0;
  Published<MountView> view_;

  std::atomic<int64_t> next_beat_ns_{0};  // when the regions' beat words move next (wire.h)
};

}  // namespace finesse::server
