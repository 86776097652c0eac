// Validation of a request copied out of a client's slot. Nothing is trusted: the op code,
// every offset and length, and every string's termination are checked here, before any
// handler looks at the request. This is the surface the fuzzer exercises.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "wire.h"

namespace finesse::server {

struct Decoded {
  wire::Op op;
  wire::Request req;
  std::string_view path[2];
  std::string_view name;
};

// data/len: a private copy of the slot's data area. Returns 0, or -EPROTO for a malformed
// request (the client then takes the kernel path).
int decode_request(uint32_t op, const uint8_t *data, size_t len, Decoded *out);

}  // namespace finesse::server
