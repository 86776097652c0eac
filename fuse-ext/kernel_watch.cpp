#include "kernel_watch.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

namespace finesse::server {

bool KernelWatch::cwd_is(pid_t pid, uint32_t kernel_dev, uint64_t ino, CwdCheck *c) {
  PinnedCounters &k = cwd_;
  uint32_t slot = k.per_process() ? static_cast<uint32_t>(pid) & (FINESSE_CWD_GEN_SLOTS - 1)
                                  : FINESSE_CWD_GEN_SLOTS;
  // The counter before the cwd: a chdir racing with the check moves it again.
  uint64_t value = 0;
  uint32_t source = 0;
  bool counted = k.read(slot, &value, &source);
  if (counted && c->valid && c->source == source && c->seen == value && c->ino == ino) return true;
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/cwd", static_cast<int>(pid));
  struct statx stx;
  // Cached attributes only: a FUSE daemon (this one included) is never asked.
  bool same = statx(AT_FDCWD, path, AT_STATX_DONT_SYNC, STATX_INO, &stx) == 0 &&
              stx.stx_dev_major == (kernel_dev >> 20) &&
              stx.stx_dev_minor == (kernel_dev & 0xfffff) && stx.stx_ino == ino;
  c->valid = same && counted;
  c->source = source;
  c->seen = value;
  c->ino = ino;
  return same;
}

bool KernelWatch::mount_watched(uint64_t mnt_id) {
  uint64_t n = 0;
  uint32_t source = 0;
  uint32_t slot = static_cast<uint32_t>(mnt_id) & (FINESSE_WATCHED_SLOTS - 1);
  if (!watched_.read(slot, &n, &source)) return true;  // unknown: as if watched
  return n != 0;
}

bool KernelWatch::mount_generation(uint64_t *value, uint32_t *source) {
  return cwd_.read(FINESSE_MOUNT_GEN_INDEX, value, source, /*mapped_only=*/true);
}

}  // namespace finesse::server
