#include "cred_watch.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "finesse_track.h"
#include "pinned_counters.h"
#include "registry.h"

namespace finesse::server {

namespace {

// One thread's status file. false if it cannot be read (*gone: the thread exited).
bool read_thread_status(int task_dir, const char *tid, StatusIds *ids, bool *gone) {
  char path[64], buf[8192];
  snprintf(path, sizeof(path), "%s/status", tid);
  *gone = false;
  int fd = openat(task_dir, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *gone = errno == ENOENT || errno == ESRCH;
    return false;
  }
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  int err = errno;
  close(fd);
  if (n <= 0) {
    *gone = n < 0 && err == ESRCH;
    return false;
  }
  if (static_cast<size_t>(n) == sizeof(buf) - 1) return false;  // too many groups: not served
  buf[n] = '\0';
  return parse_status_ids(buf, ids);
}

}  // namespace

bool mount_admits(const Creds &k, const MountAccess &m) {
  if (m.allow_other) return true;
  uid_t u = m.owner_uid;
  gid_t g = m.owner_gid;
  return k.uid == u && k.ruid == u && k.suid == u && k.gid == g && k.rgid == g && k.sgid == g;
}

std::string read_process_creds(pid_t pid, Creds *out, bool *can_change, bool *mixed) {
  *can_change = true;
  *mixed = false;
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/task", pid);
  DIR *d = opendir(path);
  if (d == nullptr) return "cannot read client threads";
  StatusIds first, ids;
  bool have = false;
  std::string why;
  while (dirent *e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    bool gone;
    if (!read_thread_status(dirfd(d), e->d_name, have ? &ids : &first, &gone)) {
      if (gone) continue;
      why = "cannot read a client thread's status";
      break;
    }
    if (have && !(ids == first)) {
      why = "client threads have different credentials";
      *mixed = true;
      break;
    }
    have = true;
  }
  closedir(d);
  if (why.empty() && !have) why = "client has no threads";
  if (!why.empty()) return why;
  out->pid = pid;
  out->groups = first.groups;
  const unsigned long long *u = first.uid, *g = first.gid;
  *can_change =
      !(u[0] == u[1] && u[1] == u[2] && g[0] == g[1] && g[1] == g[2]) || first.cap_prm != 0;
  return creds_from_status(first, out);
}

bool process_gone(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  int n = poll(&p, 1, 0);
  return n != 0;  // readable (exited), or the pidfd cannot be polled: gone either way
}

bool within_admitted(const Creds &f, const Creds &a) {
  if (a.privileged) return true;
  if (f.privileged || (f.cap_prm & ~a.cap_prm) != 0) return false;
  auto uid_in = [&](uid_t u) { return u == a.uid || u == a.ruid || u == a.suid; };
  auto gid_in = [&](gid_t g) { return g == a.gid || g == a.rgid || g == a.sgid; };
  if (!uid_in(f.uid) || !uid_in(f.ruid) || !uid_in(f.suid)) return false;
  if (!gid_in(f.gid) || !gid_in(f.rgid) || !gid_in(f.sgid)) return false;
  for (gid_t g : f.groups)
    if (std::find(a.groups.begin(), a.groups.end(), g) == a.groups.end()) return false;
  return true;
}

bool CredCounter::read(pid_t pid, uint64_t *value, uint32_t *source) {
  uint32_t slot = counters_.per_process()  // else our pids are not the programs' tgids
                      ? static_cast<uint32_t>(pid) & (FINESSE_CRED_GEN_SLOTS - 1)
                      : FINESSE_CRED_GEN_SLOTS;
  return counters_.read(slot, value, source);
}

bool creds_current(CredCounter &counter, Creds *creds, CredWatch *w, const MountAccess &m) {
  if (w->gone) return false;
  // A process with one uid, one gid and no permitted capabilities cannot change them (a
  // new user namespace only adds capabilities over its own files: stricter answers).
  if (w->checked && !w->mixed && !w->can_change) return w->servable;
  // The counter before /proc: a change racing with the re-read below moves it again.
  uint64_t value = 0;
  uint32_t source = 0;
  bool counted = counter.read(creds->pid, &value, &source);
  if (w->checked && !w->mixed && counted && w->source == source && w->seen == value)
    return w->servable;
  Creds fresh = *creds;
  bool can_change, mixed;
  std::string why = read_process_creds(creds->pid, &fresh, &can_change, &mixed);
  // After the read: if the connecting process is still alive, the pid was its own all along
  // (else another process may hold it now, and /proc told us about that one).
  if (w->pidfd >= 0 && process_gone(w->pidfd)) {
    w->gone = true;
    w->servable = false;
    return false;
  }
  if (why.empty() && !w->have_admitted) {
    w->admitted = fresh;
    w->have_admitted = true;
  }
  if (why.empty() && !within_admitted(fresh, w->admitted)) why = "credentials above admission";
  // A status that could not be read is not an answer: look again at the next request (else
  // one failed read would leave the client to the kernel until its credentials changed).
  w->checked = why.empty() || mixed;
  w->source = counted ? source : 0;
  w->seen = value;
  w->can_change = can_change;
  w->mixed = mixed;
  w->servable = why.empty() && mount_admits(fresh, m);
  if (why.empty()) *creds = fresh;
  return w->servable;
}

}  // namespace finesse::server
