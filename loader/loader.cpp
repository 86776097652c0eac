#include "loader.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>

#include "bpf_loader.h"
#include "registry.h"
#include "registry_writer.h"
#include "track_programs.h"
#include "unix_socket.h"
#include "wire.h"

namespace finesse::loader {

namespace {

constexpr long kFuseSuperMagic = 0x65735546;

Outcome fail(int code, std::string msg) {
  return Outcome{code, std::move(msg)};
}

std::string errtext(int neg) {
  return strerror(-neg);
}

Outcome need_root() {
  if (geteuid() != 0) return fail(kNotRoot, "must be run as root");
  return {};
}

Outcome open_registry(RegistryWriter &w, bool create) {
  auto fs = bpf::ensure_bpffs();
  if (!fs) return fail(kNoBpffs, "cannot mount bpffs at /sys/fs/bpf: " + fs.error().text());
  int rc = w.open(create);
  if (rc == -ENOENT && !create) return fail(kNotAttached, "nothing is attached");
  if (rc == -ENOSYS || rc == -EPERM)
    return fail(kNoBpf, "BPF is unavailable on this kernel: " + errtext(rc));
  if (rc < 0) return fail(kFailure, "cannot open the registry maps: " + errtext(rc));
  return {};
}

// Canonical path, mount id and FUSE-ness of a mount point.
struct MountFacts {
  std::string path;
  uint64_t mnt_id = 0;
};

Outcome examine_mount(const std::string &mountpoint, MountFacts *out) {
  char canonical[PATH_MAX];
  if (realpath(mountpoint.c_str(), canonical) == nullptr)
    return fail(kNotMountPoint, "'" + mountpoint + "': " + strerror(errno));
  struct statx stx;
  if (statx(AT_FDCWD, canonical, AT_NO_AUTOMOUNT, STATX_BASIC_STATS | STATX_MNT_ID, &stx) != 0)
    return fail(kNotMountPoint, "'" + mountpoint + "': " + strerror(errno));
  if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) ||
      !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
    return fail(kNotMountPoint, "'" + mountpoint + "' is not a mount point");
  struct statfs sfs;
  if (statfs(canonical, &sfs) != 0 || sfs.f_type != kFuseSuperMagic)
    return fail(kNotFuse, "'" + mountpoint + "' is not a FUSE mount");
  out->path = canonical;
  out->mnt_id = stx.stx_mnt_id;
  return {};
}

std::vector<std::string> candidate_sockets() {
  std::vector<std::string> dirs;
  if (const char *env = getenv("FINESSE_RUN_DIR")) dirs.push_back(env);
  dirs.push_back("/run/finesse");
  if (DIR *tmp = opendir("/tmp")) {
    while (dirent *d = readdir(tmp))
      if (strncmp(d->d_name, "finesse-", 8) == 0 && strspn(d->d_name + 8, "0123456789") > 0)
        dirs.push_back(std::string("/tmp/") + d->d_name);
    closedir(tmp);
  }
  std::vector<std::string> out;
  for (const auto &dir : dirs) {
    DIR *d = opendir(dir.c_str());
    if (!d) continue;
    while (dirent *e = readdir(d)) {
      size_t n = strlen(e->d_name);
      if (n > 5 && strcmp(e->d_name + n - 5, ".sock") == 0) out.push_back(dir + "/" + e->d_name);
    }
    closedir(d);
  }
  return out;
}

std::string random_nonce() {
  std::random_device rd;
  char buf[33];
  snprintf(buf, sizeof(buf), "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

}  // namespace

// An entry whose server still answers for that very mount (a dead daemon's entry is stale).
bool entry_is_live(const finesse_mount_entry &e) {
  int fd = control_connect(e.socket_path);
  if (fd < 0) return false;
  control::Reply r{};
  bool live = control_call(fd, control::Op::kInfo, nullptr, &r) == 0 &&
              r.info.pid == e.server_pid && r.info.mnt_id == e.mnt_id;
  close(fd);
  return live;
}

int control_connect(const char *socket_path) {
  int fd = unix_connect(socket_path);
  if (fd < 0) return fd;
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  wire::Hello h{wire::kMagic, wire::kVersion, wire::HelloKind::kControl, 0};
  wire::Welcome w{};
  if (send_msg(fd, &h, sizeof(h), nullptr, 0) < 0 ||
      recv_msg(fd, &w, sizeof(w), nullptr, 0, nullptr) != static_cast<ssize_t>(sizeof(w)) ||
      w.status != wire::HelloStatus::kServed) {
    close(fd);
    return -EPROTO;
  }
  return fd;
}

int control_call(int fd, control::Op op, const char *arg, control::Reply *rep) {
  control::Request req{};
  req.magic = wire::kMagic;
  req.op = op;
  if (arg) snprintf(req.arg, sizeof(req.arg), "%s", arg);
  int rc = send_msg(fd, &req, sizeof(req), nullptr, 0);
  if (rc < 0) return rc;
  ssize_t n = recv_msg(fd, rep, sizeof(*rep), nullptr, 0, nullptr);
  if (n < 0) return static_cast<int>(n);
  if (n != sizeof(*rep) || rep->magic != wire::kMagic) return -EPROTO;
  return rep->status;
}

Outcome attach(const std::string &mountpoint) {
  if (Outcome o = need_root(); o.code) return o;
  if (auto missing = bpf::missing_bpf_feature())
    return fail(kNoBpf, "BPF or BTF unavailable: this kernel lacks " + *missing);
  MountFacts m;
  if (Outcome o = examine_mount(mountpoint, &m); o.code) return o;
  if (m.path.size() >= FINESSE_MOUNT_PATH_MAX)
    return fail(kFailure, "mount path too long for the registry");
  LoaderLock lock;
  RegistryWriter reg;
  if (Outcome o = open_registry(reg, true); o.code) return o;
  if (auto r = ensure_programs_loaded(reg.mounts_fd()); !r)
    return fail(kNoBpf, "cannot load the BPF programs: " + r.error().text());
  finesse_mount_entry existing;
  if (reg.lookup(m.mnt_id, &existing) == 0 && entry_is_live(existing))
    return fail(kAlreadyAttached, "'" + m.path + "' is already attached");
  // Otherwise any entry under this id is stale (mount ids are reused): it is replaced.

  // Find the server whose mount id matches, then prove it serves this mount: a kernel
  // lookup of a fresh name through the mount must reach that very server.
  for (const std::string &sock : candidate_sockets()) {
    int fd = control_connect(sock.c_str());
    if (fd < 0) continue;
    control::Reply info{};
    if (control_call(fd, control::Op::kInfo, nullptr, &info) != 0 || info.info.mnt_id != m.mnt_id) {
      close(fd);
      continue;
    }
    PeerCreds pc;
    std::string nonce = random_nonce();
    struct stat st;
    std::string probe = m.path + "/" + control::kChallengePrefix + nonce;
    (void)stat(probe.c_str(), &st);
    control::Reply ch{};
    int seen = control_call(fd, control::Op::kChallenge, nonce.c_str(), &ch);
    bool proven =
        seen == 0 && peer_creds(fd, &pc) == 0 && static_cast<uint32_t>(pc.pid) == info.info.pid;
    close(fd);
    if (seen == -ENOTSUP)
      return fail(kNoServer, "the server of '" + m.path +
                                 "' cannot serve it: libfuse's replies do not pass through "
                                 "libfinesse_fuse.so; the file system stays on the kernel path");
    if (!proven) continue;
    if (sock.size() >= FINESSE_SOCKET_PATH_MAX) return fail(kFailure, "socket path too long");
    finesse_mount_entry e{};
    e.version = FINESSE_REGISTRY_VERSION;
    e.server_pid = info.info.pid;
    e.mnt_id = m.mnt_id;
    e.kernel_dev = info.info.kernel_dev;
    snprintf(e.mount_path, sizeof(e.mount_path), "%s", m.path.c_str());
    snprintf(e.socket_path, sizeof(e.socket_path), "%s", sock.c_str());
    uint64_t gen = 0;
    if (reg.bump_generation(&gen) < 0) return fail(kFailure, "cannot update the registry");
    e.attach_generation = gen;
    forget_mount(m.mnt_id);  // facts and counters of an earlier mount with this id
    if (int rc = reg.update(e); rc < 0)
      return fail(kFailure, "cannot update the registry: " + errtext(rc));
    return Outcome{kOk, "attached " + m.path + " (server pid " + std::to_string(e.server_pid) +
                            ", mount id " + std::to_string(m.mnt_id) + ")"};
  }
  return fail(kNoServer, "no Finesse server serves '" + m.path +
                             "' (start the file system with libfinesse_fuse.so)");
}

Outcome detach(const std::string &mountpoint) {
  if (Outcome o = need_root(); o.code) return o;
  LoaderLock lock;
  RegistryWriter reg;
  if (Outcome o = open_registry(reg, false); o.code) return o;
  // Match by path: a dead daemon's mount may no longer answer statx.
  char canonical[PATH_MAX];
  std::string path = realpath(mountpoint.c_str(), canonical) ? canonical : mountpoint;
  std::vector<AttachedMount> all;
  if (Outcome o = list_attached(&all); o.code) return o;
  for (const AttachedMount &a : all) {
    if (path != a.entry.mount_path) continue;
    if (int rc = reg.remove(a.entry.mnt_id); rc < 0)
      return fail(kFailure, "cannot update the registry: " + errtext(rc));
    reg.bump_generation(nullptr);
    forget_mount(a.entry.mnt_id);
    // Tell the server: its clients fall back to the kernel now rather than at their next
    // registry refresh.
    int fd = control_connect(a.entry.socket_path);
    if (fd >= 0) {
      control::Reply r{};
      control_call(fd, control::Op::kDetach, nullptr, &r);
      close(fd);
    }
    return Outcome{kOk, "detached " + path};
  }
  return fail(kNotAttached, "'" + path + "' is not attached");
}

Outcome unload() {
  if (Outcome o = need_root(); o.code) return o;
  std::vector<AttachedMount> all;
  list_attached(&all);
  for (const AttachedMount &a : all) detach(a.entry.mount_path);
  LoaderLock lock;
  if (auto r = unload_programs(); !r) return fail(kFailure, "cannot unload: " + r.error().text());
  unlink(FINESSE_MOUNTS_PIN);
  unlink(FINESSE_META_PIN);
  rmdir(FINESSE_PIN_DIR);
  struct stat st;
  if (stat(FINESSE_PIN_DIR, &st) == 0) return fail(kFailure, "could not remove " FINESSE_PIN_DIR);
  return Outcome{kOk, "unloaded"};
}

Outcome missed(bool on) {
  if (Outcome o = need_root(); o.code) return o;
  LoaderLock lock;
  if (on && !programs_loaded())
    return fail(kNoBpf, "the BPF programs are not loaded (attach a mount first)");
  if (auto r = set_missed_counting(on); !r)
    return fail(kFailure, "cannot switch missed counting: " + r.error().text());
  return Outcome{kOk, on ? "missed-bypass counting on" : "missed-bypass counting off"};
}

Outcome list_attached(std::vector<AttachedMount> *out) {
  RegistrySnapshot *snap = new RegistrySnapshot;
  int rc = registry_read(snap);
  if (rc == -ENOENT) {
    delete snap;
    return {};
  }
  if (rc < 0) {
    delete snap;
    return fail(kNoBpf, "cannot read the registry: " + errtext(rc));
  }
  MissedCounters missed;
  bool counters = read_missed_counters(&missed) == 0 && missed_counting();
  for (int i = 0; i < snap->count; i++) {
    AttachedMount a{};
    a.entry = snap->entries[i];
    a.bpf_counters = counters;
    if (auto it = missed.find(a.entry.mnt_id); it != missed.end())
      std::copy(it->second.begin(), it->second.end(), a.kernel_missed);
    int fd = control_connect(a.entry.socket_path);
    if (fd >= 0) {
      control::Reply r{};
      if (control_call(fd, control::Op::kInfo, nullptr, &r) == 0) a.info = r.info;
      if (control_call(fd, control::Op::kStats, nullptr, &r) == 0) a.stats = r.stats;
      a.server_alive = a.info.pid == a.entry.server_pid;
      close(fd);
    }
    out->push_back(a);
  }
  delete snap;
  return {};
}

}  // namespace finesse::loader
