// SIGINT/SIGTERM: the first one asks the run to stop at the next check (so every mount is
// unmounted and every daemon reaped by the normal destructors); a second one, for a run stuck
// in a call that does not return, detaches the mounts and kills the daemons from the handler.
#pragma once

#include <sys/types.h>

#include <stdexcept>

namespace finesse::bench {

struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

void install_interrupt_handlers();
bool interrupted();
inline void throw_if_interrupted() {
  if (interrupted()) throw Interrupted();
}

// What the second signal cleans up. Returns a slot for forget_emergency_mount, or -1 when all
// slots are taken (the mount then only has the orderly cleanup).
int remember_emergency_mount(const char *mountpoint, pid_t daemon);
void forget_emergency_mount(int slot);

}  // namespace finesse::bench
