#include "registry_writer.h"

#include <bpf/bpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace finesse::loader {

namespace {
int open_or_create(const char *pin, enum bpf_map_type type, uint32_t key_size,
                   uint32_t value_size, uint32_t max_entries, const char *name, bool create) {
  int fd = bpf_obj_get(pin);
  if (fd >= 0 || !create) return fd >= 0 ? fd : -errno;
  fd = bpf_map_create(type, name, key_size, value_size, max_entries, nullptr);
  if (fd < 0) return -errno;
  if (bpf_obj_pin(fd, pin) < 0) {
    int e = errno;
    close(fd);
    // Another loader pinned it first (concurrent attaches): use theirs.
    if (e == EEXIST) return (fd = bpf_obj_get(pin)) >= 0 ? fd : -errno;
    return -e;
  }
  chmod(pin, 0644);  // every user's client reads it (BPF_F_RDONLY)
  return fd;
}
}  // namespace

RegistryWriter::~RegistryWriter() {
  if (mounts_fd_ >= 0) close(mounts_fd_);
  if (meta_fd_ >= 0) close(meta_fd_);
}

int RegistryWriter::open(bool create) {
  if (create) {
    mkdir(FINESSE_PIN_DIR, 0755);
    chmod(FINESSE_PIN_DIR, 0755);
  }
  mounts_fd_ = open_or_create(FINESSE_MOUNTS_PIN, BPF_MAP_TYPE_HASH, sizeof(uint64_t),
                              sizeof(finesse_mount_entry), FINESSE_MAX_MOUNTS, "finesse_mounts",
                              create);
  if (mounts_fd_ < 0) return mounts_fd_;
  meta_fd_ = open_or_create(FINESSE_META_PIN, BPF_MAP_TYPE_ARRAY, sizeof(uint32_t),
                            sizeof(finesse_registry_meta), 1, "finesse_meta", create);
  return meta_fd_ < 0 ? meta_fd_ : 0;
}

int RegistryWriter::lookup(uint64_t mnt_id, finesse_mount_entry *e) {
  return bpf_map_lookup_elem(mounts_fd_, &mnt_id, e) < 0 ? -errno : 0;
}

int RegistryWriter::update(const finesse_mount_entry &e) {
  return bpf_map_update_elem(mounts_fd_, &e.mnt_id, &e, BPF_ANY) < 0 ? -errno : 0;
}

int RegistryWriter::remove(uint64_t mnt_id) {
  return bpf_map_delete_elem(mounts_fd_, &mnt_id) < 0 ? -errno : 0;
}

int RegistryWriter::bump_generation(uint64_t *gen) {
  uint32_t key = 0;
  finesse_registry_meta meta{};
  if (bpf_map_lookup_elem(meta_fd_, &key, &meta) < 0) return -errno;
  meta.generation++;
  if (bpf_map_update_elem(meta_fd_, &key, &meta, BPF_ANY) < 0) return -errno;
  if (gen) *gen = meta.generation;
  return 0;
}

}  // namespace finesse::loader
