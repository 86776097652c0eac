// Kernel-side facts for bypass decisions, read from the maps finesse_track.bpf.c keeps:
// whether an fd or the cwd of this process sits on an attached Finesse mount, with the FUSE
// node id (and file handle) the kernel holds for it. Raw bpf() syscalls on read-only fds
// that are opened once and cached (revalidated against their pins every registry TTL), so it
// works from inside any process, unprivileged, without libbpf. Thread-safe, no allocation.
//
// A fact is as fresh as the kernel's fd table: the programs rewrite or delete an entry on
// every syscall that installs or drops that fd number (see bpf/README.md for the few paths
// they do not see). Check fact.mnt_id against the registry copy before using it: an entry
// outlives a detach only until finesse-loader has cleaned it.
#pragma once

#include <cstdint>

namespace finesse {

struct FdFact {
  uint64_t mnt_id;      // registry key (statx STATX_MNT_ID of the mount)
  uint64_t nodeid;      // FUSE node id of the file
  uint64_t fh;          // FUSE file handle (0 for O_PATH fds)
  uint64_t ino;         // st_ino
  uint64_t generation;  // changes whenever the entry is rewritten
};

struct CwdFact {
  uint64_t mnt_id;
  uint64_t nodeid;
  uint64_t ino;
  uint64_t generation;
};

// True and *out filled if fd (of this process) sits on an attached Finesse mount. False if
// it does not, or if the BPF programs are not loaded.
bool fd_fact(int fd, FdFact *out);
// Same for the current working directory.
bool cwd_fact(CwdFact *out);
// True if the facts maps are pinned and readable (the programs are loaded).
bool kernel_facts_available();
// Forgets the cached map fds (the next call reopens the pins), e.g. after the registry's
// generation changed.
void kernel_facts_reset();

}  // namespace finesse
