// Async-signal-safe registry of this process's mounts and daemons, for the safety net.
// Fixed-size static storage only: signal handlers read it without locks or allocation.
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstring>

#include "internal.h"

namespace finesse::testing::detail {
namespace {

struct Slot {
  std::atomic<bool> used{false};
  std::atomic<bool> ready{false};  // mnt is filled in
  std::atomic<pid_t> pid{0};
  char mnt[PATH_MAX] = {};
};

constexpr int kSlots = 128;
Slot g_slots[kSlots];
std::atomic<pid_t> g_owner{0};

Slot *find(const std::string &mnt) {
  for (auto &slot : g_slots) {
    if (slot.ready.load(std::memory_order_acquire) && mnt == slot.mnt) return &slot;
  }
  return nullptr;
}

}  // namespace

void set_owner_pid(pid_t pid) {
  g_owner.store(pid);
}

void registry_add(const std::string &mnt) {
  if (mnt.size() >= PATH_MAX) return;
  for (auto &slot : g_slots) {
    bool expected = false;
    if (slot.used.compare_exchange_strong(expected, true)) {
      std::memcpy(slot.mnt, mnt.c_str(), mnt.size() + 1);
      slot.pid.store(0);
      slot.ready.store(true, std::memory_order_release);
      return;
    }
  }
  // Full: the destructors still clean up; only the signal path loses this mount.
}

void registry_set_pid(const std::string &mnt, pid_t pid) {
  if (Slot *slot = find(mnt)) slot->pid.store(pid);
}

void registry_remove(const std::string &mnt) {
  if (Slot *slot = find(mnt)) {
    slot->ready.store(false, std::memory_order_release);
    slot->pid.store(0);
    slot->used.store(false, std::memory_order_release);
  }
}

void emergency_cleanup() noexcept {
  // Forked children (run_as, helpers) inherit our handlers but must not touch our mounts.
  if (g_owner.load() != getpid()) return;
  for (auto &slot : g_slots) {
    if (!slot.ready.load(std::memory_order_acquire)) continue;
    const pid_t pid = slot.pid.load();
    if (pid > 0) kill(pid, SIGCONT);  // a stopped daemon holds requests hostage
    umount2(slot.mnt, MNT_DETACH);
    if (pid > 0) kill(pid, SIGKILL);  // closing /dev/fuse aborts the connection
  }
}

}  // namespace finesse::testing::detail
