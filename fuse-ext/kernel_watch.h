// What the kernel knows that a bypassed call must respect (issue 13), from the pinned BPF
// counters (bpf/finesse_track.h):
// - a client's real cwd: the shim sends relative paths against the cwd it cached, which a
//   chdir hidden from it (inside libc, a raw system call) leaves stale. Requests say which
//   bases are the cwd (wire::kCwdBase0/1); the server checks the client's real cwd when the
//   client's cwd_gen slot moved since its last check.
// - watches: a mutation through the bypass raises no inotify/fanotify/dnotify event, so
//   mutations on a mount someone watches go to the kernel.
// - mount changes: the mount-change counter tells when to look at mountinfo again (a lazy
//   unmount, a mount over ours or over an ancestor of our mount point).
// Used from the server thread only.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "finesse_track.h"
#include "pinned_counters.h"

namespace finesse::server {

// What the server last verified about one client's cwd.
struct CwdCheck {
  bool valid = false;  // the client's cwd was (dev, ino) when its counter was `seen`
  uint32_t source = 0;
  uint64_t seen = 0;
  uint64_t ino = 0;
};

class KernelWatch {
 public:
  // Whether the client's real cwd (that of process pid) is the directory with inode number
  // ino on the superblock kernel_dev (MAJOR << 20 | MINOR). Asks the kernel (statx of
  // /proc/<pid>/cwd, cached attributes only: no request to any FUSE daemon) unless the
  // client's cwd counter has not moved since the last positive answer for this ino.
  bool cwd_is(pid_t pid, uint32_t kernel_dev, uint64_t ino, CwdCheck *c);

  // Whether someone may be watching mount mnt_id for changes (also when it cannot be
  // known: the programs are not loaded or being replaced).
  bool mount_watched(uint64_t mnt_id);

  // The mount-change counter, if it can be read without a system call (a root server maps
  // it). *source changes when the counter is reopened.
  bool mount_generation(uint64_t *value, uint32_t *source);

 private:
  PinnedCounters cwd_{FINESSE_CWD_GEN_PIN, FINESSE_MOUNT_GEN_INDEX + 1, FINESSE_CWD_GEN_SLOTS};
  PinnedCounters watched_{FINESSE_WATCHED_PIN, FINESSE_WATCHED_SLOTS + 1, FINESSE_WATCHED_SLOTS};
};

}  // namespace finesse::server
