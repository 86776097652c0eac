// An owned memory mapping, unmapped with the object or on reset (UniqueFd's shape).
#pragma once

#include <sys/mman.h>

#include <cstddef>

namespace finesse {

class Mapping {
 public:
  Mapping() = default;
  Mapping(void *addr, size_t len) : addr_(addr), len_(len) {}
  ~Mapping() { reset(); }
  Mapping(Mapping &&other) noexcept : addr_(other.addr_), len_(other.len_) {
    other.addr_ = nullptr;
  }
  Mapping &operator=(Mapping &&other) noexcept {
    if (this != &other) {
      reset();
      addr_ = other.addr_;
      len_ = other.len_;
      other.addr_ = nullptr;
    }
    return *this;
  }
  Mapping(const Mapping &) = delete;
  Mapping &operator=(const Mapping &) = delete;

  void *get() const { return addr_; }
  bool valid() const { return addr_ != nullptr; }
  void reset() {
    if (addr_ != nullptr) ::munmap(addr_, len_);
    addr_ = nullptr;
  }

 private:
  void *addr_ = nullptr;
  size_t len_ = 0;
};

}  // namespace finesse
