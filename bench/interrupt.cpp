#include "interrupt.h"

#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace finesse::bench {
namespace {

constexpr int kSlots = 8;
constexpr size_t kPathMax = 4096;

struct Slot {
  std::atomic<bool> used{false};
  pid_t daemon = -1;
  char mountpoint[kPathMax] = {};
};

Slot g_slots[kSlots];
volatile sig_atomic_t g_signals = 0;

// Async-signal-safe only: umount2, kill, _exit.
void on_signal(int sig) {
  g_signals = g_signals + 1;
  if (g_signals < 2) return;
  // Newest first: a FUSE mount goes before the ext4 mount its source directory lives on.
  for (int i = kSlots - 1; i >= 0; --i) {
    Slot &s = g_slots[i];
    if (!s.used.load()) continue;
    umount2(s.mountpoint, MNT_DETACH);
    if (s.daemon > 0) kill(s.daemon, SIGKILL);  // closing /dev/fuse aborts pending requests
  }
  _exit(128 + sig);
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

bool interrupted() {
  return g_signals != 0;
}

int remember_emergency_mount(const char *mountpoint, pid_t daemon) {
  if (std::strlen(mountpoint) >= kPathMax) return -1;
  for (int i = 0; i < kSlots; ++i) {
    Slot &s = g_slots[i];
    if (s.used.load()) continue;
    std::strcpy(s.mountpoint, mountpoint);
    s.daemon = daemon;
    s.used.store(true);  // published last: the handler never sees a half-written slot
    return i;
  }
  return -1;
}

void forget_emergency_mount(int slot) {
  if (slot >= 0 && slot < kSlots) g_slots[slot].used.store(false);
}

}  // namespace finesse::bench
