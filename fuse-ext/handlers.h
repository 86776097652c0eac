// One handler per bypassed operation, each answering exactly once: 0 / -errno as the kernel
// path would, or kToKernel when the kernel must do it (nothing was changed then).
#pragma once

#include <cstddef>
#include <cstdint>

#include "request_decode.h"
#include "result.h"
#include "serve_ctx.h"
#include "wire.h"

namespace finesse::server {

struct ReplyBuf {
  wire::Reply *rep;
  char *data;  // bytes after the Reply struct in the slot
  size_t cap;
};

Result serve_request(ServeCtx &ctx, const Decoded &d, ReplyBuf &out);

}  // namespace finesse::server
