#include "bypass_attachment.h"

#include <cstdio>
#include <stdexcept>

#include "finesse/finesse.h"
#include "loader.h"

namespace finesse::bench {

BypassAttachment::BypassAttachment(const std::string &mountpoint) : mountpoint_(mountpoint) {
  const loader::Outcome o = loader::attach(mountpoint_);
  if (o.code != loader::kOk) throw std::runtime_error("attaching the bypass: " + o.message);
  finesse_refresh_registry();  // the client's registry copy may predate the attach
}

BypassAttachment::~BypassAttachment() {
  const loader::Outcome o = loader::detach(mountpoint_);
  if (o.code != loader::kOk) {
    std::fprintf(stderr, "finesse-bench: detaching %s: %s\n", mountpoint_.c_str(),
                 o.message.c_str());
  }
  finesse_refresh_registry();
}

}  // namespace finesse::bench
