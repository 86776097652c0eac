// The writable side of the pinned registry maps (root only): created and pinned on first
// attach with modes that let every user read them, removed by unload.
#pragma once

#include <cstdint>
#include <string>

#include "registry_abi.h"

namespace finesse::loader {

class RegistryWriter {
 public:
  ~RegistryWriter();
  // Opens the pinned maps, creating and pinning them if create is set. 0 or -errno.
  int open(bool create);
  int lookup(uint64_t mnt_id, finesse_mount_entry *e);
  int update(const finesse_mount_entry &e);
  int remove(uint64_t mnt_id);
  int bump_generation(uint64_t *gen);
  int mounts_fd() const { return mounts_fd_; }

 private:
  int mounts_fd_ = -1;
  int meta_fd_ = -1;
};

}  // namespace finesse::loader
