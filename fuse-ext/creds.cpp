#include "creds.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
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

bool parse_status_ids(const char *text, StatusIds *out) {
  bool have_uid = false, have_gid = false, have_groups = false, have_eff = false, have_prm = false;
  out->groups.clear();
  for (const char *line = text; line != nullptr && *line;) {
    const char *next = strchr(line, '\n');
    if (next) next++;
    unsigned long long *u = out->uid, *g = out->gid;
    if (sscanf(line, "Uid: %llu %llu %llu %llu", &u[0], &u[1], &u[2], &u[3]) == 4) {
      have_uid = true;
    } else if (sscanf(line, "Gid: %llu %llu %llu %llu", &g[0], &g[1], &g[2], &g[3]) == 4) {
      have_gid = true;
    } else if (strncmp(line, "Groups:", 7) == 0) {
      have_groups = true;
      const char *end = next ? next - 1 : line + strlen(line);
      for (const char *p = line + 7; p < end;) {
        char *after;
        unsigned long v = strtoul(p, &after, 10);
        if (after == p) break;
        out->groups.push_back(static_cast<gid_t>(v));
        p = after;
      }
    } else if (sscanf(line, "CapEff: %" SCNx64, &out->cap_eff) == 1) {
      have_eff = true;
    } else if (sscanf(line, "CapPrm: %" SCNx64, &out->cap_prm) == 1) {
      have_prm = true;
    }
    line = next;
  }
  return have_uid && have_gid && have_groups && have_eff && have_prm;
}

std::string creds_from_status(const StatusIds &ids, Creds *out) {
  const unsigned long long *uid = ids.uid, *gid = ids.gid;
  if (uid[3] != uid[1] || gid[3] != gid[1]) return "client fsuid/fsgid differ from euid/egid";
  out->ruid = static_cast<uid_t>(uid[0]);
  out->uid = static_cast<uid_t>(uid[1]);
  out->suid = static_cast<uid_t>(uid[2]);
  out->rgid = static_cast<gid_t>(gid[0]);
  out->gid = static_cast<gid_t>(gid[1]);
  out->sgid = static_cast<gid_t>(gid[2]);
  out->cap_prm = ids.cap_prm;
  bool all_caps = (ids.cap_eff & kFsCaps) == kFsCaps;
  bool no_caps = (ids.cap_eff & kFsCaps) == 0;
  if (out->uid == 0 && !all_caps) return "root client without full capabilities";
  if (out->uid != 0 && !no_caps) return "non-root client with file capabilities";
  out->privileged = out->uid == 0;
  return "";
}

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
  StatusIds ids;
  if (!parse_status_ids(buf, &ids)) return "malformed client status";
  if (ids.uid[1] != peer_euid || ids.gid[1] != peer_egid) return "client changed identity";
  out->pid = pid;
  return creds_from_status(ids, out);
}

Creds access_creds(const Creds &c) {
  Creds a = c;
  a.uid = c.ruid;
  a.gid = c.rgid;
  // A non-root real uid with euid 0: the kernel clears the effective capabilities.
  a.privileged = c.ruid == 0 && c.privileged;
  return a;
}

bool access_creds_known(const Creds &c) {
  if (c.ruid == 0) return c.privileged || (c.cap_prm & kFsCaps) == 0;
  return !c.privileged;
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
