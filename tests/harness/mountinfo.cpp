// Finding and detaching mounts through /proc/self/mountinfo. Never touches the mounted file systems
// themselves, so it is safe even when a FUSE daemon is stopped or dead.
#include <sys/mount.h>

#include <algorithm>

#include "harness.h"
#include "internal.h"

namespace finesse::testing {
namespace detail {
namespace {

std::string strip_trailing_slash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

bool find_mount(const std::string &mount_point, MountEntry *out) {
  const std::string wanted = strip_trailing_slash(mount_point);
  auto mounts = read_mountinfo();
  // The last entry for a path is the one on top (what a lookup would see).
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    if (it->mount_point == wanted) {
      if (out != nullptr) *out = *it;
      return true;
    }
  }
  return false;
}

void detach_mounts_below(const std::string &dir) {
  const std::string base = strip_trailing_slash(dir);
  // Repeat: detaching one mount may reveal another stacked underneath.
  for (int round = 0; round < 8; ++round) {
    std::vector<std::string> below;
    for (const auto &m : read_mountinfo()) {
      if (m.mount_point == base || m.mount_point.starts_with(base + "/")) {
        below.push_back(m.mount_point);
      }
    }
    if (below.empty()) return;
    // Deepest first so a parent mount is never busy because of a child.
    std::sort(below.begin(), below.end(),
              [](const std::string &a, const std::string &b) { return a.size() > b.size(); });
    for (const auto &mnt : below) umount2(mnt.c_str(), MNT_DETACH);
  }
}

}  // namespace detail

bool is_mounted(const std::string &path) {
  return detail::find_mount(path, nullptr);
}

}  // namespace finesse::testing
