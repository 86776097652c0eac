// libFuzzer target: arbitrary bytes as a client's slot (op, length, data) through the
// server's decoding and dispatch, against a fake file system, with arbitrary credentials
// and mount options. The server must never crash, hang, or touch memory outside the slot.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vector>

#include "extension.h"
#include "fake_fs.h"
#include "handlers.h"
#include "request_decode.h"

using namespace finesse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz::install_fake_fs();
  if (size < 8) return 0;
  // Header: op (1 byte), credentials/options selector (1 byte), then the slot's data.
  uint32_t op = data[0] % (wire::kOpCount + 2);
  uint8_t sel = data[1];
  std::vector<uint8_t> slot(data + 2, data + size);  // the server works on a private copy
  server::Creds creds;
  creds.uid = (sel & 1) ? 0 : 1000;
  creds.gid = (sel & 2) ? 0 : 1000;
  creds.ruid = creds.uid;
  creds.rgid = creds.gid;
  creds.privileged = creds.uid == 0;
  if (sel & 4) creds.groups = {0, 5};
  server::MountFacts facts;
  facts.default_permissions = sel & 8;
  facts.read_only = sel & 16;
  if (sel & 32) facts.nested.insert("a");
  server::Decoded d{};
  if (server::decode_request(op, slot.data(), slot.size(), &d) != 0) return 0;
  server::Extension &ext = server::extension();
  server::ServeCtx ctx{&creds, &facts, &ext.fs, &ext.kernel, &ext.cache};
  ctx.umask = d.req.umask & 0777;
  std::vector<char> out_data(wire::kSlotDataSize - sizeof(wire::Reply));
  wire::Reply rep{};
  server::ReplyBuf out{&rep, out_data.data(), out_data.size()};
  Result rc = server::serve_request(ctx, d, out);
  (void)rc;
  if (rep.data_len > out_data.size()) __builtin_trap();  // a reply larger than its buffer
  ext.cache.unpin(&ctx.pins, &ctx.forgets);
  if (sel & 64) {
    std::vector<server::Forget> forgets;
    server::extension().cache.flush(&forgets);
  }
  return 0;
}
