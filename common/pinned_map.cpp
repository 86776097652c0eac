#include "pinned_map.h"

#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace finesse {

namespace {
long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static_assert(offsetof(union bpf_attr, value) == offsetof(union bpf_attr, next_key));

// An element command on map fd: out is the value (LOOKUP_ELEM) or the next key
// (GET_NEXT_KEY), which share one field of the attribute union.
int elem_call(int cmd, int fd, const void *key, void *out) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_fd = static_cast<uint32_t>(fd);
  attr.key = reinterpret_cast<uint64_t>(key);
  attr.value = reinterpret_cast<uint64_t>(out);
  return sys_bpf(cmd, &attr) < 0 ? -errno : 0;
}
}  // namespace

PinnedMap::PinnedMap(const char *pin, Access access) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.pathname = reinterpret_cast<uint64_t>(pin);
  attr.file_flags = access == Access::kReadOnly ? BPF_F_RDONLY : 0;
  long fd = sys_bpf(BPF_OBJ_GET, &attr);  // (bpf fds are always close-on-exec)
  if (fd < 0)
    err_ = -errno;
  else
    fd_ = static_cast<int>(fd);
}

PinnedMap::~PinnedMap() {
  if (fd_ >= 0) close(fd_);
}

PinnedMap &PinnedMap::operator=(PinnedMap &&other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    err_ = other.err_;
    other.fd_ = -1;
  }
  return *this;
}

int PinnedMap::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

int PinnedMap::lookup(int fd, const void *key, void *value) {
  return elem_call(BPF_MAP_LOOKUP_ELEM, fd, key, value);
}

int PinnedMap::next_key(const void *key, void *next) const {
  return elem_call(BPF_MAP_GET_NEXT_KEY, fd_, key, next);
}

}  // namespace finesse
