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
#include "finesse_track.h"
#include "pinned_counters.h"

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
  // The process that connected (SO_PEERPIDFD, else pidfd_open; front_door.cpp), owned:
  // closed by close_client. Credentials are re-read from /proc/<pid>, and a pid outlives its
  // process (reused by another one): a re-read counts only if this process is still alive
  // after it. -1: no such check (tests that drive creds_current by hand).
  int pidfd = -1;
  bool gone = false;  // that process exited: never served again
  // The credentials the client was admitted with. A re-read may lower them, never raise
  // them: a process can gain rights only by exec'ing a set-user-ID program, and a forked
  // child that kept the region must not be served with them.
  Creds admitted;
  bool have_admitted = false;  // else the first re-read sets admitted
};

// Whether the process behind pidfd has exited (its pidfd polls readable).
bool process_gone(int pidfd);

// Whether fresh grants nothing that admitted did not: every uid, gid, group and permitted
// capability of fresh was admitted's, or admitted was root with all capabilities.
bool within_admitted(const Creds &fresh, const Creds &admitted);

// Whether the client may be served now, with *creds brought up to date if they changed.
// Never adopts credentials above the admitted ones (within_admitted), and serves no client
// whose process exited (w->pidfd). Re-reads /proc when the client's counter moved, when
// there is no counter (BPF programs not loaded: then for clients that can change
// credentials, on every request), and on the first request after admission. Clients whose threads
// disagree are not served (and re-read on every request, since a thread's exit changes no counter).
// The pinned cred_gen array (pinned_counters.h: found lazily, since the loader pins it at
// the first attach, after the server started; mapped by a root server, else one bpf()
// lookup a read). One per serving thread.
class CredCounter {
 public:
  // The client's counter and the opening it was read from (never 0), or false.
  bool read(pid_t pid, uint64_t *value, uint32_t *source);

 private:
  PinnedCounters counters_{FINESSE_CRED_GEN_PIN, FINESSE_CRED_GEN_SLOTS + 1,
                           FINESSE_CRED_GEN_SLOTS};
};

bool creds_current(CredCounter &counter, Creds *creds, CredWatch *w, const MountAccess &m);

// Every thread's credentials of process pid, if they are alike and servable (else why not).
// *can_change: whether the process can change them (ids differ, or capabilities permitted);
// *mixed: its threads' credentials differ.
std::string read_process_creds(pid_t pid, Creds *out, bool *can_change, bool *mixed);

}  // namespace finesse::server
