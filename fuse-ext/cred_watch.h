// Keeping a client's credentials current after connect. A process may change them behind
// libfinesse's back (raw set*id/setgroups/capset system calls, in one thread only). The BPF
// programs count every credential change per process in the pinned "cred_gen" array
// (bpf/finesse_track.h); per request the server reads the client's counter (one load from
// its mapping as root, one bpf() lookup otherwise; nothing for a client that cannot change
// its credentials) and only when it moved re-reads every thread's credentials from /proc.
// Used from the server thread only.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "creds.h"

namespace finesse::server {

// Who may use the mount at all (the kernel's fuse_allow_current_process).
struct MountAccess {
  bool allow_other = false;
  uid_t owner_uid = 0;
  gid_t owner_gid = 0;
};

// Without allow_other: only a caller whose every uid and gid is the mount owner's.
bool mount_admits(const Creds &c, const MountAccess &m);

// What the server knows about one client's credentials.
struct CredWatch {
  bool checked = false;    // every thread's credentials read at least once (after admission)
  bool servable = false;   // at that check: all threads alike, servable, admitted
  bool can_change = true;  // at that check: ids differ or capabilities permitted
  bool mixed = false;      // at that check: threads differed (alike again when one exits)
  uint32_t source = 0;     // counter mapping the check was made under (0: none)
  uint64_t seen = 0;       // the client's counter, read before that check
};

// Whether the client may be served now, with *creds brought up to date if they changed.
// Re-reads /proc when the client's counter moved, when there is no counter (BPF programs
// not loaded: then for clients that can change credentials, on every request), and on the
// first request after admission. Clients whose threads disagree are not served (and re-read
// on every request, since a thread's exit changes no counter).
bool creds_current(Creds *creds, CredWatch *w, const MountAccess &m);

// Every thread's credentials of process pid, if they are alike and servable (else why not).
// *can_change: whether the process can change them (ids differ, or capabilities permitted);
// *mixed: its threads' credentials differ.
std::string read_process_creds(pid_t pid, Creds *out, bool *can_change, bool *mixed);

}  // namespace finesse::server
