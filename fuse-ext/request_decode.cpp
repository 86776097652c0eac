#include "request_decode.h"

#include <string.h>

#include <cerrno>

namespace finesse::server {

namespace {

// A string at [off, off+len) followed by a NUL, with no NUL inside, within data[0, size).
bool take_string(const uint8_t *data, size_t size, const wire::StrRef &ref, uint32_t max_len,
                 std::string_view *out) {
  if (ref.len > max_len) return false;
  if (ref.off < sizeof(wire::Request) || ref.off > size) return false;
  if (size - ref.off < size_t{ref.len} + 1) return false;
  const char *s = reinterpret_cast<const char *>(data + ref.off);
  if (s[ref.len] != '\0' || memchr(s, '\0', ref.len) != nullptr) return false;
  *out = std::string_view(s, ref.len);
  return true;
}

bool take_path(const uint8_t *data, size_t size, const wire::PathArg &p, std::string_view *out) {
  if (!take_string(data, size, p.path, wire::kPathMax - 1, out)) return false;
  return p.verify_len <= p.path.len;
}

}  // namespace

int decode_request(uint32_t op, const uint8_t *data, size_t len, Decoded *out) {
  // (kBatch is a container of requests, not one: Server::serve_batch.)
  if (op == 0 || op >= wire::kOpCount || op == static_cast<uint32_t>(wire::Op::kBatch))
    return -EPROTO;
  if (len < sizeof(wire::Request) || len > wire::kSlotDataSize) return -EPROTO;
  out->op = static_cast<wire::Op>(op);
  memcpy(&out->req, data, sizeof(wire::Request));
  const wire::Request &r = out->req;
  if (!take_path(data, len, r.path[0], &out->path[0])) return -EPROTO;
  switch (out->op) {
    case wire::Op::kRename:
    case wire::Op::kLink:
      if (!take_path(data, len, r.path[1], &out->path[1])) return -EPROTO;
      break;
    case wire::Op::kSymlink:
      if (!take_string(data, len, r.name, wire::kPathMax - 1, &out->name)) return -EPROTO;
      break;
    case wire::Op::kGetxattr:
      if (!take_string(data, len, r.name, wire::kNameMax, &out->name)) return -EPROTO;
      break;
    default:
      break;
  }
  return 0;
}

}  // namespace finesse::server
