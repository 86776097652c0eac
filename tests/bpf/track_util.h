// Helpers for the BPF tracking tests: mount ids, raw reads of other processes' entries, the
// probe helper binary, the missed-bypass counters.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <sstream>
#include <string>

#include "finesse_track.h"
#include "harness.h"
#include "kernel_facts.h"
#include "pinned_map.h"
#include "registry.h"
#include "track_programs.h"

namespace finesse::testing {

inline uint64_t mount_id_of(const std::string &path) {
  struct statx stx;
  if (statx(AT_FDCWD, path.c_str(), 0, STATX_MNT_ID, &stx) != 0) return 0;
  return stx.stx_mnt_id;
}

// The fds-map entry of any process (the reader only answers for its own).
inline bool fd_entry(pid_t tgid, int fd, finesse_fd_fact *out) {
  finesse_fd_key key{static_cast<__u32>(tgid), fd};
  return PinnedMap(FINESSE_FDS_PIN).lookup(&key, out) == 0;
}

inline bool cwd_entry(pid_t tgid, finesse_cwd_fact *out) {
  __u32 key = static_cast<__u32>(tgid);
  return PinnedMap(FINESSE_CWDS_PIN).lookup(&key, out) == 0;
}

inline std::string probe_binary() {
  return bin_dir() + "/finesse_track_probe";
}

// Value of "key=" in a probe output line, or UINT64_MAX.
inline uint64_t probe_field(const std::string &line, const std::string &key) {
  size_t at = line.find(" " + key + "=");
  if (at == std::string::npos) return UINT64_MAX;
  return std::stoull(line.substr(at + key.size() + 2));
}

inline uint64_t missed_count(uint64_t mnt_id, wire::Op op) {
  loader::MissedCounters all;
  if (loader::read_missed_counters(&all) != 0) return 0;
  auto it = all.find(mnt_id);
  return it == all.end() ? 0 : it->second[static_cast<uint32_t>(op)];
}

}  // namespace finesse::testing
