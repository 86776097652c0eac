// The pinned BPF side of finesse-loader: finesse_track.bpf.c's programs, loaded once and kept
// attached by link pins under FINESSE_LINKS_DIR, and its maps pinned next to the registry.
// All functions need root except read_missed_counters and pinned_program_names.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bpf_loader.h"
#include "wire.h"

namespace finesse::loader {

// Serialises loaders (attach/detach/unload) across processes: flock on the bpffs root.
class LoaderLock {
 public:
  LoaderLock();
  ~LoaderLock();
  LoaderLock(const LoaderLock &) = delete;
  LoaderLock &operator=(const LoaderLock &) = delete;

 private:
  int fd_ = -1;
};

// True once every program of this build is pinned (a previous attach loaded them).
bool programs_loaded();

// Loads and attaches the programs unless programs_loaded(): the registry's mounts map
// (mounts_fd) is handed to them, the facts and counters maps are pinned 0644, one link per
// program 0600. Tracepoints this kernel lacks (newer syscalls) are skipped. On failure
// nothing new stays pinned.
bpf::Result<void> ensure_programs_loaded(int mounts_fd);

// Missed-bypass counting: its programs run on every stat, access, ... of every process, so
// they are loaded and attached only while someone wants the counts. set_missed_counting(true)
// needs the tracking programs loaded (an attach); false unpins their links. A reload of the
// programs (unload, another ABI) leaves counting off. Both need root.
bool missed_counting();
bpf::Result<void> set_missed_counting(bool on);

// Unpins every link (the kernel detaches and frees the programs and their maps once the
// last reference goes) and the maps pinned by ensure_programs_loaded. Idempotent.
bpf::Result<void> unload_programs();

// Drops every fd, cwd and counter entry of a mount id (called when an id is attached or
// detached: the kernel reuses mount ids). No-op if the programs are not loaded.
void forget_mount(uint64_t mnt_id);

struct PinnedProgram {
  std::string name;      // the program's name (file name of its link pin)
  uint32_t link_id = 0;  // 0 when the link pin cannot be opened (not root)
  uint32_t prog_id = 0;
};
std::vector<PinnedProgram> pinned_programs();

// Missed-bypass counters by mount id and operation (wire::Op numbering), read with a
// read-only fd (any user). Returns 0, -ENOENT if the programs are not loaded, or -errno.
using MissedCounters = std::map<uint64_t, std::array<uint64_t, wire::kOpCount>>;
int read_missed_counters(MissedCounters *out);

}  // namespace finesse::loader
