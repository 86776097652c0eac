// finesse-loader's operations as a library (the CLI in main.cpp is a thin shell over it).
#pragma once

#include <string>
#include <vector>

#include "control.h"
#include "registry_abi.h"

namespace finesse::loader {

// Distinct exit codes, one per failure a user can meet.
enum Exit : int {
  kOk = 0,
  kFailure = 1,
  kUsage = 2,
  kNotRoot = 3,
  kNoBpffs = 4,
  kNoBpf = 5,
  kNotMountPoint = 6,
  kNotFuse = 7,
  kNoServer = 8,
  kAlreadyAttached = 9,
  kNotAttached = 10,
};

struct Outcome {
  int code = kOk;
  std::string message;  // one line, for stderr on failure or stdout on success
};

Outcome attach(const std::string &mountpoint);
Outcome detach(const std::string &mountpoint);
Outcome unload();
// Switches the missed-bypass counters (the BPF programs behind `stats`' kernel column) on or
// off; off by default, since they run on every metadata call of every process. "on" needs the
// programs loaded (an attach).
Outcome missed(bool on);

struct AttachedMount {
  finesse_mount_entry entry;
  bool server_alive;
  control::Info info;
  control::Stats stats;
  // Calls that reached the mount through the kernel, seen by the BPF programs (wire::Op
  // numbering); bpf_counters is false when the programs are not loaded or counting is off.
  bool bpf_counters;
  uint64_t kernel_missed[wire::kOpCount];
};
// The registry's entries; code != kOk when the registry cannot be read.
Outcome list_attached(std::vector<AttachedMount> *out);

bool entry_is_live(const finesse_mount_entry &e);

// A control connection to a server socket. Returns fd or -errno.
int control_connect(const char *socket_path);
// One control request/reply. 0 or -errno.
int control_call(int fd, control::Op op, const char *arg, control::Reply *rep);

}  // namespace finesse::loader
