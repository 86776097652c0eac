#include "creds.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>

namespace finesse::server {

namespace {
// CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID
constexpr uint64_t kFsCaps = 0x1f;
}  // namespace

std::string load_status_creds(pid_t pid, uid_t peer_euid, gid_t peer_egid, Creds *out) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/status", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "cannot read client status";
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return "cannot read client status";
  buf[n] = '\0';
  unsigned long long uid[4] = {}, gid[4] = {};
  uint64_t cap_eff = ~uint64_t{0};
  bool have_uid = false, have_gid = false, have_cap = false;
  for (char *line = buf; line != nullptr && *line;) {
    char *next = strchr(line, '\n');
    if (next) *next++ = '\0';
    if (sscanf(line, "Uid: %llu %llu %llu %llu", &uid[0], &uid[1], &uid[2], &uid[3]) == 4)
      have_uid = true;
    else if (sscanf(line, "Gid: %llu %llu %llu %llu", &gid[0], &gid[1], &gid[2], &gid[3]) == 4)
      have_gid = true;
    else if (sscanf(line, "CapEff: %" SCNx64, &cap_eff) == 1)
      have_cap = true;
    line = next;
  }
  if (!have_uid || !have_gid || !have_cap) return "malformed client status";
  if (uid[1] != peer_euid || gid[1] != peer_egid) return "client changed identity";
  if (uid[3] != uid[1] || gid[3] != gid[1]) return "client fsuid/fsgid differ from euid/egid";
  out->pid = pid;
  out->ruid = static_cast<uid_t>(uid[0]);
  out->uid = static_cast<uid_t>(uid[1]);
  out->suid = static_cast<uid_t>(uid[2]);
  out->rgid = static_cast<gid_t>(gid[0]);
  out->gid = static_cast<gid_t>(gid[1]);
  out->sgid = static_cast<gid_t>(gid[2]);
  bool all_caps = (cap_eff & kFsCaps) == kFsCaps;
  bool no_caps = (cap_eff & kFsCaps) == 0;
  if (out->uid == 0 && !all_caps) return "root client without full capabilities";
  if (out->uid != 0 && !no_caps) return "non-root client with file capabilities";
  out->privileged = out->uid == 0;
  return "";
}

Creds access_creds(const Creds &c) {
  Creds a = c;
  a.uid = c.ruid;
  a.gid = c.rgid;
  // A non-root real uid with euid 0: the kernel clears the effective capabilities.
  a.privileged = c.ruid == 0 && c.privileged;
  return a;
}

bool in_group(const Creds &c, gid_t gid) {
  return c.gid == gid || std::find(c.groups.begin(), c.groups.end(), gid) != c.groups.end();
}

int check_permission(const Creds &c, const struct stat &st, int mask) {
  mask &= 7;
  unsigned mode = st.st_mode;
  unsigned perm;
  if (c.uid == st.st_uid)
    perm = mode >> 6;
  else if (in_group(c, st.st_gid))
    perm = mode >> 3;
  else
    perm = mode;
  if ((mask & ~perm & 7) == 0) return 0;
  if (c.privileged) {
    // CAP_DAC_OVERRIDE: everything but executing a file nobody may execute.
    if (!(mask & 1) || S_ISDIR(mode) || (mode & 0111)) return 0;
  }
  return -EACCES;
}

bool owner_or_capable(const Creds &c, const struct stat &st) {
  return c.uid == st.st_uid || c.privileged;
}

int check_sticky(const Creds &c, const struct stat &dir, const struct stat &victim) {
  if (!(dir.st_mode & S_ISVTX)) return 0;
  if (c.uid == victim.st_uid || c.uid == dir.st_uid || c.privileged) return 0;
  return -EPERM;
}

}  // namespace finesse::server
