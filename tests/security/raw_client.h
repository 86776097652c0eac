// A client that speaks the wire protocol by hand (no libfinesse): it does the real handshake
// and then writes whatever it likes into its region. The security suites use it to play a
// hostile or broken client.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "wire.h"

namespace finesse::testing {

// The server socket of the attached mount at mnt (from the registry); empty if none.
std::string server_socket_of(const std::string &mnt);

struct RawClient {
  int sock = -1;
  int efd = -1;
  int memfd = -1;  // kept open (libfinesse closes it) so tests can inspect it
  void *region = nullptr;
  wire::HelloStatus status = wire::HelloStatus::kNotServed;

  // Connects and says hello. Returns 0 (served or not: see status) or -errno.
  int connect(const std::string &socket_path);
  ~RawClient();

  wire::Slot *slot(uint32_t i) const { return wire::slot_at(region, i); }
  // Marks slot i posted (and its pending bit) and kicks the server.
  void post(uint32_t i);
  // Waits for kDone on slot i for up to timeout_ms; true if it came.
  bool wait_done(uint32_t i, int timeout_ms) const;
  // A well-formed request in slot i: op with the given paths (mount-relative).
  void put_request(uint32_t i, wire::Op op, const wire::Request &req, const std::string &p0,
                   const std::string &p1 = "", const std::string &name = "");
};

}  // namespace finesse::testing
