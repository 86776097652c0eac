// The bypass attached to a mount with the loader library (as `finesse-loader attach` does),
// detached again on destruction.
#pragma once

#include <string>

namespace finesse::bench {

class BypassAttachment {
 public:
  explicit BypassAttachment(const std::string &mountpoint);  // throws std::runtime_error
  ~BypassAttachment();
  BypassAttachment(const BypassAttachment &) = delete;
  BypassAttachment &operator=(const BypassAttachment &) = delete;

 private:
  std::string mountpoint_;
};

}  // namespace finesse::bench
