#include "registry.h"

#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace finesse {

namespace {
long sys_bpf(int cmd, union bpf_attr *attr) {
  return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}
}  // namespace

int bpf_obj_get_ro(const char *pin_path) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.pathname = reinterpret_cast<uint64_t>(pin_path);
  attr.file_flags = BPF_F_RDONLY;
  long fd = sys_bpf(BPF_OBJ_GET, &attr);
  if (fd < 0) return -errno;
  // bpf map fds are always CLOEXEC since 4.x; nothing to do.
  return static_cast<int>(fd);
}

int bpf_lookup(int map_fd, const void *key, void *value) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_fd = map_fd;
  attr.key = reinterpret_cast<uint64_t>(key);
  attr.value = reinterpret_cast<uint64_t>(value);
  return sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr) < 0 ? -errno : 0;
}

int bpf_next_key(int map_fd, const void *key, void *next_key) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_fd = map_fd;
  attr.key = reinterpret_cast<uint64_t>(key);
  attr.next_key = reinterpret_cast<uint64_t>(next_key);
  return sys_bpf(BPF_MAP_GET_NEXT_KEY, &attr) < 0 ? -errno : 0;
}

int registry_read_generation(uint64_t *generation) {
  int fd = bpf_obj_get_ro(FINESSE_META_PIN);
  if (fd < 0) return fd;
  uint32_t key = 0;
  finesse_registry_meta meta{};
  int rc = bpf_lookup(fd, &key, &meta);
  close(fd);
  if (rc == 0) *generation = meta.generation;
  return rc;
}

int registry_read(RegistrySnapshot *out) {
  out->count = 0;
  int rc = registry_read_generation(&out->generation);
  if (rc < 0) return rc;
  int fd = bpf_obj_get_ro(FINESSE_MOUNTS_PIN);
  if (fd < 0) return fd;
  uint64_t key = 0, next = 0;
  const void *prev = nullptr;  // NULL key: first element
  while (out->count < FINESSE_MAX_MOUNTS && bpf_next_key(fd, prev, &next) == 0) {
    finesse_mount_entry &e = out->entries[out->count];
    if (bpf_lookup(fd, &next, &e) == 0 && e.version == FINESSE_REGISTRY_VERSION) {
      e.mount_path[sizeof(e.mount_path) - 1] = '\0';
      e.socket_path[sizeof(e.socket_path) - 1] = '\0';
      out->count++;
    }
    key = next;
    prev = &key;
  }
  close(fd);
  return 0;
}

}  // namespace finesse
