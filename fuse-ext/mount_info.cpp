#include "mount_info.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <sstream>

namespace finesse::server {

std::string unescape_mount_path(const std::string &s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size() && isdigit(s[i + 1]) &&
        isdigit(s[i + 2]) && isdigit(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

namespace {
bool has_option(const std::string &opts, const std::string &name, std::string *value) {
  std::stringstream ss(opts);
  std::string o;
  while (std::getline(ss, o, ',')) {
    if (o == name) return true;
    if (o.rfind(name + "=", 0) == 0) {
      if (value) *value = o.substr(name.size() + 1);
      return true;
    }
  }
  return false;
}
}  // namespace

MountInfo parse_mountinfo(const std::string &text, const std::string &mountpoint) {
  MountInfo mi;
  std::stringstream lines(text);
  std::string line;
  std::vector<std::string> all_points;
  size_t ours = 0;
  while (std::getline(lines, line)) {
    std::stringstream ls(line);
    std::vector<std::string> f;
    std::string w;
    while (ls >> w) f.push_back(w);
    size_t dash = 0;
    for (size_t i = 6; i < f.size(); i++)
      if (f[i] == "-") {
        dash = i;
        break;
      }
    if (dash == 0 || f.size() < dash + 3) continue;
    std::string point = unescape_mount_path(f[4]);
    all_points.push_back(point);
    const std::string &fstype = f[dash + 1];
    if (point != mountpoint || fstype.rfind("fuse", 0) != 0) continue;
    // The newest mount at that point wins (mountinfo lists in mount order).
    mi = MountInfo{};
    mi.found = true;
    ours = all_points.size() - 1;
    mi.mnt_id = std::stoull(f[0]);
    unsigned maj = 0, min = 0;
    sscanf(f[2].c_str(), "%u:%u", &maj, &min);
    mi.kernel_dev = (maj << 20) | min;
    const std::string &mount_opts = f[5];
    const std::string super_opts = f.size() > dash + 3 ? f[dash + 3] : "";
    mi.read_only = has_option(mount_opts, "ro", nullptr) || has_option(super_opts, "ro", nullptr);
    mi.noexec = has_option(mount_opts, "noexec", nullptr);
    mi.default_permissions = has_option(super_opts, "default_permissions", nullptr);
    mi.allow_other = has_option(super_opts, "allow_other", nullptr);
    std::string v;
    if (has_option(super_opts, "user_id", &v)) mi.user_id = std::stoul(v);
    if (has_option(super_opts, "group_id", &v)) mi.group_id = std::stoul(v);
  }
  if (!mi.found) return mi;
  std::string prefix = mountpoint == "/" ? "/" : mountpoint + "/";
  for (size_t i = ours + 1; i < all_points.size(); i++) {
    const std::string &p = all_points[i];
    if (p == mountpoint || p == "/" || prefix.compare(0, p.size() + 1, p + "/") == 0)
      mi.covered = true;
  }
  for (const auto &p : all_points)
    if (p.size() > prefix.size() && p.compare(0, prefix.size(), prefix) == 0)
      mi.nested.push_back(p.substr(prefix.size()));
  return mi;
}

MountInfo read_mount_info(const std::string &mountpoint) {
  int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return MountInfo{};
  std::string text;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) text.append(buf, n);
  close(fd);
  return parse_mountinfo(text, mountpoint);
}

}  // namespace finesse::server
