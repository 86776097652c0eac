// Requests from shared memory are hostile until validated: every malformed shape is refused.
#include "request_decode.h"

#include <gtest/gtest.h>
#include <string.h>

#include <vector>

namespace finesse::server {
namespace {

struct Builder {
  std::vector<uint8_t> data = std::vector<uint8_t>(sizeof(wire::Request));
  wire::Request req{};
  wire::StrRef add(const std::string &s) {
    wire::StrRef r{static_cast<uint32_t>(data.size()), static_cast<uint32_t>(s.size())};
    data.insert(data.end(), s.begin(), s.end());
    data.push_back(0);
    return r;
  }
  std::vector<uint8_t> bytes() {
    memcpy(data.data(), &req, sizeof(req));
    return data;
  }
};

// d's strings point into v: v must outlive them.
int decode(uint32_t op, const std::vector<uint8_t> &v, Decoded *d) {
  return decode_request(op, v.data(), v.size(), d);
}

TEST(RequestDecode, AcceptsAWellFormedRename) {
  Builder b;
  b.req.path[0].path = b.add("a/b");
  b.req.path[1].path = b.add("c");
  Decoded d;
  std::vector<uint8_t> v = b.bytes();
  ASSERT_EQ(decode(static_cast<uint32_t>(wire::Op::kRename), v, &d), 0);
  EXPECT_EQ(d.path[0], "a/b");
  EXPECT_EQ(d.path[1], "c");
}

TEST(RequestDecode, RefusesUnknownOpsAndShortRequests) {
  Builder b;
  b.req.path[0].path = b.add("x");
  Decoded d;
  EXPECT_EQ(decode(0, b.bytes(), &d), -EPROTO);
  EXPECT_EQ(decode(wire::kOpCount, b.bytes(), &d), -EPROTO);
  EXPECT_EQ(decode(1000000, b.bytes(), &d), -EPROTO);
  std::vector<uint8_t> tiny(8);
  EXPECT_EQ(decode(1, tiny, &d), -EPROTO);
  std::vector<uint8_t> huge(wire::kSlotDataSize + 1);
  EXPECT_EQ(decode(1, huge, &d), -EPROTO);
}

TEST(RequestDecode, RefusesStringsOutOfBoundsOrUnterminated) {
  Decoded d;
  {
    Builder b;
    b.req.path[0].path = b.add("abc");
    auto v = b.bytes();
    v.back() = 'x';  // no NUL
    EXPECT_EQ(decode(1, v, &d), -EPROTO);
  }
  {
    Builder b;
    b.req.path[0].path = wire::StrRef{sizeof(wire::Request), 0xffffffffu};
    EXPECT_EQ(decode(1, b.bytes(), &d), -EPROTO);
  }
  {
    Builder b;
    b.req.path[0].path = wire::StrRef{0xfffffff0u, 4};  // offset overflow
    EXPECT_EQ(decode(1, b.bytes(), &d), -EPROTO);
  }
  {
    Builder b;
    b.req.path[0].path = wire::StrRef{0, 3};  // inside the request header
    EXPECT_EQ(decode(1, b.bytes(), &d), -EPROTO);
  }
  {
    Builder b;
    b.req.path[0].path = b.add(std::string("a\0b", 3));  // embedded NUL
    EXPECT_EQ(decode(1, b.bytes(), &d), -EPROTO);
  }
  {
    Builder b;
    b.req.path[0].path = b.add("abc");
    b.req.path[0].verify_len = 4;  // longer than the path
    EXPECT_EQ(decode(1, b.bytes(), &d), -EPROTO);
  }
  {
    Builder b;
    b.req.path[0].path = b.add("f");
    b.req.name = b.add(std::string(wire::kNameMax + 1, 'n'));  // xattr name too long
    EXPECT_EQ(decode(static_cast<uint32_t>(wire::Op::kGetxattr), b.bytes(), &d), -EPROTO);
  }
}

TEST(RequestDecode, RandomBytesNeverCrash) {
  uint32_t x = 1;
  for (int i = 0; i < 20000; i++) {
    std::vector<uint8_t> v(sizeof(wire::Request) + (i % 300));
    for (auto &c : v) c = static_cast<uint8_t>((x = x * 1103515245 + 12345) >> 16);
    Decoded d;
    int rc = decode(1 + i % (wire::kOpCount - 1), v, &d);
    EXPECT_TRUE(rc == 0 || rc == -EPROTO);
    if (rc == 0) {
      // Whatever was accepted lies inside the buffer.
      auto inside = [&](std::string_view s) {
        return s.data() >= reinterpret_cast<const char *>(v.data()) &&
               s.data() + s.size() < reinterpret_cast<const char *>(v.data() + v.size());
      };
      EXPECT_TRUE(inside(d.path[0]));
    }
  }
}

}  // namespace
}  // namespace finesse::server
