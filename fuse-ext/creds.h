// A client's credentials as the server learned them at connect time (SO_PEERCRED,
// SO_PEERGROUPS, /proc/<pid>/status), and the kernel's permission rules over them.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>

#include <string>
#include <vector>

namespace finesse::server {

struct Creds {
  pid_t pid = -1;
  uid_t uid = 0, ruid = 0;  // fsuid (== euid; clients where they differ are not served), real
  gid_t gid = 0, rgid = 0;
  uid_t suid = 0;
  gid_t sgid = 0;
  std::vector<gid_t> groups;
  // uid 0 with the full set of DAC/FOWNER/CHOWN/FSETID capabilities. Clients whose
  // capabilities do not fit "root with all" or "non-root with none" are not served.
  bool privileged = false;
  uint64_t cap_prm = 0;  // permitted capabilities (no re-read may add any; access() with a
                         // real uid of 0 uses them)
  bool operator==(const Creds &) const = default;
};

// The credential lines of a /proc/<pid>/status or /proc/<pid>/task/<tid>/status file.
struct StatusIds {
  unsigned long long uid[4] = {}, gid[4] = {};  // real, effective, saved, fs
  std::vector<gid_t> groups;
  uint64_t cap_eff = ~uint64_t{0}, cap_prm = ~uint64_t{0};
  bool operator==(const StatusIds &) const = default;
};

// Parses the status text; false if a line is missing (Groups may be empty).
bool parse_status_ids(const char *text, StatusIds *out);
// The server's rules over parsed ids (fsuid == euid, capabilities "root with all" or
// "non-root with none"); fills everything of out but pid and groups. Empty or why not.
std::string creds_from_status(const StatusIds &ids, Creds *out);

// Reads /proc/<pid>/status and cross-checks it with what SO_PEERCRED said (euid, egid), so
// that a client that changed identity between connect and now is refused. Returns an empty
// string on success or why the client cannot be served.
std::string load_status_creds(pid_t pid, uid_t peer_euid, gid_t peer_egid, Creds *out);

// access(2) without AT_EACCESS checks with the real ids, and drops capabilities unless the
// real uid is 0 (as the kernel's do_faccessat does).
Creds access_creds(const Creds &c);
// Whether access_creds knows the capabilities access(2) uses: with a real uid of 0 they are
// the permitted ones, else none, unless the client set SECBIT_NO_SETUID_FIXUP (then its
// effective ones), which /proc does not show. Not known (the kernel decides) when the two
// rules differ: a real root with permitted file capabilities but not effective ones, or a
// non-root real uid with effective capabilities.
bool access_creds_known(const Creds &c);

bool in_group(const Creds &c, gid_t gid);
// generic_permission(): mask of R_OK/W_OK/X_OK (4/2/1). 0 or -EACCES.
int check_permission(const Creds &c, const struct stat &st, int mask);
// inode_owner_or_capable()
bool owner_or_capable(const Creds &c, const struct stat &st);
// check_sticky(): deleting/renaming victim out of dir. 0 or -EPERM.
int check_sticky(const Creds &c, const struct stat &dir, const struct stat &victim);

}  // namespace finesse::server
