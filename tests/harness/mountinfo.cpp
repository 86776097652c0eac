// Reading /proc/self/mountinfo. Never touches the mounted file systems themselves, so it is
// safe even when a FUSE daemon is stopped or dead.
#include <sys/mount.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "harness.h"
#include "internal.h"

namespace finesse::testing {
namespace detail {
namespace {

bool is_octal(const std::string &digits) {
  return digits.size() == 3 &&
         std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; });
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string &field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && is_octal(field.substr(i + 1, 3))) {
      out += static_cast<char>(std::stoi(field.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

std::string strip_trailing_slash(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

std::vector<MountEntry> read_mountinfo() {
  std::vector<MountEntry> mounts;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // id parent major:minor root mount_point options [optional...] - fstype source super_opts
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point, word;
    fields >> id >> parent >> dev >> root >> mount_point;
    while (fields >> word && word != "-") {
    }
    MountEntry entry;
    fields >> entry.fstype;
    entry.mount_point = unescape(mount_point);
    if (sscanf(dev.c_str(), "%u:%u", &entry.major, &entry.minor) != 2) continue;
    mounts.push_back(std::move(entry));
  }
  return mounts;
}

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
