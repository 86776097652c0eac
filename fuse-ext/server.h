// The bypass server inside the file system's process: a Unix socket where clients connect
// and get a private shared-memory region (the front door's thread: front_door.h), and one
// serving thread that polls the regions' slots, serves requests through the handlers,
// answers control requests, and sleeps on epoll when idle.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "control.h"
#include "node_cache.h"
#include "wire.h"

namespace finesse::server {

struct Counters {
  std::atomic<uint64_t> served[wire::kOpCount]{};
  std::atomic<uint64_t> fallback[wire::kOpCount]{};
  std::atomic<uint64_t> kernel_ops{0};
  std::atomic<uint64_t> clients_total{0};
  std::atomic<uint64_t> clients_active{0};
};

Counters &counters();
NodeCache &server_cache();

// Kernel lookups of control::kChallengePrefix + nonce in the root, seen by the trampolines.
// A challenge is proven once its reply passed through our fuse_reply_* as well
// (note_kernel_reply, called by them for every kernel request): a libfuse that calls its
// replies directly (-Bsymbolic-functions) would get the bypass's synthetic requests.
void note_challenge(fuse_req_t req, const char *nonce);
void note_kernel_reply(fuse_req_t req);

// Starts the server for the mount (idempotent). Returns 0 or -errno; failures leave the file
// system working without a bypass.
int start_server(const std::string &mountpoint);
// Stops serving: every client falls back, the socket goes away, cached lookups are forgotten.
void stop_server();

}  // namespace finesse::server
