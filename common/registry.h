// Reading the pinned mount registry with raw bpf() syscalls: no allocation, no libbpf state,
// so the client can do it from inside any application (read-only map fds).
#pragma once

#include <cstdint>

#include "registry_abi.h"

namespace finesse {

struct RegistrySnapshot {
  uint64_t generation = 0;
  int count = 0;
  finesse_mount_entry entries[FINESSE_MAX_MOUNTS];
};

// Fills out from the pinned maps. Returns 0, or -errno (-ENOENT: nothing attached / pinned).
int registry_read(RegistrySnapshot *out);
// Reads only the generation counter (one lookup). Returns 0 or -errno.
int registry_read_generation(uint64_t *generation);

}  // namespace finesse
