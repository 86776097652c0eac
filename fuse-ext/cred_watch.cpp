#include "cred_watch.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "finesse_track.h"
#include "registry.h"

namespace finesse::server {

namespace {

constexpr int64_t kRecheckNs = 1'000'000'000;  // how often the pins are looked at again
// PROC_PID_INIT_INO: the initial pid namespace, whose tgids the BPF programs see.
constexpr const char *kInitPidNs = "pid:[4026531836]";

int64_t coarse_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

uint64_t pin_inode(const char *pin) {
  struct stat st;
  return stat(pin, &st) == 0 ? st.st_ino : 0;
}

bool in_init_pid_ns() {
  char link[64] = {};
  ssize_t n = readlink("/proc/self/ns/pid", link, sizeof(link) - 1);
  return n > 0 && strcmp(link, kInitPidNs) == 0;
}

int bpf_obj_get_rw(const char *pin) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.pathname = reinterpret_cast<uint64_t>(pin);
  return static_cast<int>(syscall(SYS_bpf, BPF_OBJ_GET, &attr, sizeof(attr)));
}

// The pinned cred_gen array. Found lazily (the loader pins it at the first attach, after the
// server started) and looked at again once a second: programs unloaded or replaced by another
// load (track_info is re-pinned by every load) make it reopen. A server that may open the pin
// read-write (root) maps it and reads a counter with one load; others cannot map it (the
// kernel maps BPF arrays only through writable fds, and the pin is 0644) and read it with
// one bpf() lookup.
class CredCounter {
 public:
  ~CredCounter() { close_map(); }

  // The client's counter and the opening it was read from (never 0), or false.
  bool read(pid_t pid, uint64_t *value, uint32_t *source) {
    int64_t now = coarse_now_ns();
    if (now >= next_check_ns_) revalidate(now);
    uint32_t slot = per_process_ ? static_cast<uint32_t>(pid) & (FINESSE_CRED_GEN_SLOTS - 1)
                                 : FINESSE_CRED_GEN_SLOTS;
    if (slots_ != nullptr) {
      uint64_t all = __atomic_load_n(&slots_[FINESSE_CRED_GEN_SLOTS], __ATOMIC_ACQUIRE);
      if (all & FINESSE_CRED_GEN_DEAD) {  // the loader is unloading the programs
        close_map();
        return false;
      }
      *value = __atomic_load_n(&slots_[slot], __ATOMIC_ACQUIRE);
    } else if (fd_ >= 0) {
      // No dead-mark check here (a second lookup): an unload is seen at the next revalidation.
      if (bpf_lookup(fd_, &slot, value) != 0) return false;
    } else {
      return false;
    }
    *source = source_;
    return true;
  }

 private:
  void revalidate(int64_t now) {
    next_check_ns_ = now + kRecheckNs;
    uint64_t ino = pin_inode(FINESSE_TRACK_INFO_PIN);
    if ((slots_ != nullptr || fd_ >= 0) && ino == info_ino_) return;
    close_map();
    if (ino == 0 || !our_layout()) return;
    if (!checked_ns_) {
      per_process_ = in_init_pid_ns();  // else our pids are not the programs' tgids
      checked_ns_ = true;
    }
    int fd = bpf_obj_get_rw(FINESSE_CRED_GEN_PIN);
    if (fd >= 0) {
      size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
      size_t len = ((FINESSE_CRED_GEN_SLOTS + 1) * sizeof(uint64_t) + page - 1) / page * page;
      void *p = mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
      close(fd);
      if (p != MAP_FAILED) {
        slots_ = static_cast<const uint64_t *>(p);
        map_len_ = len;
      }
    }
    if (slots_ == nullptr) {
      fd_ = bpf_obj_get_ro(FINESSE_CRED_GEN_PIN);
      if (fd_ < 0) return;
    }
    info_ino_ = ino;
    if (++source_ == 0) source_ = 1;
  }

  static bool our_layout() {
    int fd = bpf_obj_get_ro(FINESSE_TRACK_INFO_PIN);
    if (fd < 0) return false;
    uint32_t key = 0;
    uint64_t version = 0;
    bool ours = bpf_lookup(fd, &key, &version) == 0 && version == FINESSE_TRACK_ABI_VERSION;
    close(fd);
    return ours;
  }

  void close_map() {
    if (slots_ != nullptr) munmap(const_cast<uint64_t *>(slots_), map_len_);
    if (fd_ >= 0) close(fd_);
    slots_ = nullptr;
    fd_ = -1;
    info_ino_ = 0;
  }

  const uint64_t *slots_ = nullptr;  // mapped (root)
  size_t map_len_ = 0;
  int fd_ = -1;  // else a read-only fd
  uint64_t info_ino_ = 0;
  uint32_t source_ = 0;
  int64_t next_check_ns_ = 0;
  bool per_process_ = false;
  bool checked_ns_ = false;
};

CredCounter g_counter;

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

bool creds_current(Creds *creds, CredWatch *w, const MountAccess &m) {
  if (w->gone) return false;
  // A process with one uid, one gid and no permitted capabilities cannot change them (a
  // new user namespace only adds capabilities over its own files: stricter answers).
  if (w->checked && !w->mixed && !w->can_change) return w->servable;
  // The counter before /proc: a change racing with the re-read below moves it again.
  uint64_t value = 0;
  uint32_t source = 0;
  bool counted = g_counter.read(creds->pid, &value, &source);
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
