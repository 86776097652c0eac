#include "registry.h"

#include "pinned_map.h"

namespace finesse {

int registry_read_generation(uint64_t *generation) {
  PinnedMap meta_map(FINESSE_META_PIN);
  if (!meta_map.valid()) return meta_map.error();
  uint32_t key = 0;
  finesse_registry_meta meta{};
  int rc = meta_map.lookup(&key, &meta);
  if (rc == 0) *generation = meta.generation;
  return rc;
}

int registry_read(RegistrySnapshot *out) {
  out->count = 0;
  int rc = registry_read_generation(&out->generation);
  if (rc < 0) return rc;
  PinnedMap mounts(FINESSE_MOUNTS_PIN);
  if (!mounts.valid()) return mounts.error();
  uint64_t key = 0, next = 0;
  const void *prev = nullptr;  // NULL key: first element
  while (out->count < FINESSE_MAX_MOUNTS && mounts.next_key(prev, &next) == 0) {
    finesse_mount_entry &e = out->entries[out->count];
    if (mounts.lookup(&next, &e) == 0 && e.version == FINESSE_REGISTRY_VERSION) {
      e.mount_path[sizeof(e.mount_path) - 1] = '\0';
      e.socket_path[sizeof(e.socket_path) - 1] = '\0';
      out->count++;
    }
    key = next;
    prev = &key;
  }
  return 0;
}

}  // namespace finesse
