#include "cwd_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "base_record.h"
#include "scratch.h"
#include "shim.h"
#include "wire.h"

namespace finesse::shim::cwd_cache {

namespace {

// constinit: usable from other libraries' constructors, before our own would run.
constinit BaseRecord<wire::kPathMax> g_cwd;
std::atomic<int> g_untrusted{0};
// The epoch for which the last learning attempt failed (cwd unreachable, too long...):
// no new attempt until the next chdir.
std::atomic<uint32_t> g_failed_epoch{~0u};

void learn() {
  if (!in_owner_process()) return;  // a vfork child must not write into its parent's cache
  uint32_t epoch = g_cwd.epoch.load(std::memory_order_acquire);
  if (g_failed_epoch.load(std::memory_order_relaxed) == epoch) return;
  client::Scratch *w = client::thread_scratch();  // not on a stack that may be small
  if (w == nullptr) return;
  char *path = w->cwd;
  long n = syscall(SYS_getcwd, path, sizeof(w->cwd));  // length including the NUL
  struct statx stx;
  if (n <= 1 || path[0] != '/' ||
      syscall(SYS_statx, AT_FDCWD, ".", AT_STATX_DONT_SYNC, STATX_TYPE | STATX_INO | STATX_MNT_ID,
              &stx) != 0 ||
      !(stx.stx_mask & STATX_MNT_ID)) {
    g_failed_epoch.store(epoch, std::memory_order_relaxed);
    return;
  }
  g_cwd.write(epoch, path, static_cast<size_t>(n - 1), stx.stx_ino, stx.stx_mnt_id);
}

}  // namespace

bool base(char *out, size_t cap, uint64_t *ino, uint64_t *mnt_id) {
  if (g_untrusted.load(std::memory_order_acquire) > 0) return false;
  if (g_cwd.read(out, cap, ino, mnt_id)) return true;
  learn();
  return g_cwd.read(out, cap, ino, mnt_id);
}

void invalidate() {
  g_cwd.invalidate();
}

void enter_untrusted() {
  g_untrusted.fetch_add(1, std::memory_order_acq_rel);
  invalidate();
}

void leave_untrusted() {
  invalidate();
  g_untrusted.fetch_sub(1, std::memory_order_acq_rel);
}

}  // namespace finesse::shim::cwd_cache
