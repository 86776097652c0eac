#include "bpf_loader.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace finesse::bpf {

std::string Error::text() const {
  return what + ": " + std::strerror(code) + " (errno " + std::to_string(code) + ")";
}

Error errno_error(std::string what, int err) {
  return Error{std::abs(err), std::move(what)};
}

namespace {

// Mounts a pseudo file system of `type` at `path` unless one with `magic` is already there.
Result<void> ensure_mounted(const std::string &path, const char *type, long magic) {
  struct statfs st {};
  if (statfs(path.c_str(), &st) != 0) return errno_error("statfs " + path, errno);
  if (st.f_type == magic) return {};
  if (mount(type, path.c_str(), type, 0, nullptr) != 0) {
    return errno_error(std::string("mount ") + type + " on " + path, errno);
  }
  return {};
}

// /proc/filesystems lines are "[nodev]\t<name>".
bool kernel_has_filesystem(const std::string &name) {
  std::ifstream in("/proc/filesystems");
  for (std::string line; std::getline(in, line);) {
    if (line.substr(line.find('\t') + 1) == name) return true;
  }
  return false;
}

}  // namespace

Result<void> ensure_bpffs(const std::string &path) {
  return ensure_mounted(path, "bpf", BPF_FS_MAGIC);
}

Result<void> ensure_tracefs(const std::string &path) {
  return ensure_mounted(path, "tracefs", TRACEFS_MAGIC);
}

bool kernel_has_btf(const std::string &path) {
  return access(path.c_str(), R_OK) == 0;
}

std::optional<std::string> missing_bpf_feature() {
  // An invalid command gets EINVAL (or EPERM) from a kernel with BPF, ENOSYS from one without.
  if (syscall(SYS_bpf, -1, nullptr, 0) != 0 && errno == ENOSYS) return "the bpf() syscall";
  if (!kernel_has_btf()) return "BTF (/sys/kernel/btf/vmlinux)";
  if (!kernel_has_filesystem("tracefs")) return "tracefs";
  return std::nullopt;
}

}  // namespace finesse::bpf
