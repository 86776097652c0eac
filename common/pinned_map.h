// A pinned BPF map opened by its path in bpffs, with raw bpf() system calls (no libbpf, no
// allocation: the client opens them inside applications). The one owner of such an fd for
// the registry, the kernel facts, the credential and cwd counters, the loader's missed
// counts and the tests; closed with the object.
#pragma once

#include <cstdint>

namespace finesse {

class PinnedMap {
 public:
  enum class Access { kReadOnly, kReadWrite };  // read-write: root, or the map's own mode

  PinnedMap() = default;
  explicit PinnedMap(const char *pin, Access access = Access::kReadOnly);
  ~PinnedMap();
  PinnedMap(PinnedMap &&other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  PinnedMap &operator=(PinnedMap &&other) noexcept;
  PinnedMap(const PinnedMap &) = delete;
  PinnedMap &operator=(const PinnedMap &) = delete;

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  int error() const { return err_; }  // -errno of a failed open, else 0
  // Gives the fd up to the caller (who closes it), leaving this object empty.
  int release();

  // 0, or -errno (-ENOENT: no such key).
  int lookup(const void *key, void *value) const { return lookup(fd_, key, value); }
  // The same on an fd whose owner is elsewhere (one the threads of a process share).
  static int lookup(int fd, const void *key, void *value);
  // The key after key (nullptr: the first). 0, or -errno (-ENOENT: there is none).
  int next_key(const void *key, void *next) const;

 private:
  int fd_ = -1;
  int err_ = 0;
};

}  // namespace finesse
