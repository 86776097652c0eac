#include "mount_info.h"

#include "mountinfo.h"

namespace finesse::server {

namespace {

MountInfo from_entries(const std::vector<MountinfoEntry> &all, const std::string &mountpoint) {
  MountInfo mi;
  size_t ours = 0;
  for (size_t i = 0; i < all.size(); i++) {
    const MountinfoEntry &e = all[i];
    if (e.mount_point != mountpoint || e.fstype.rfind("fuse", 0) != 0) continue;
    // The newest mount at that point wins (mountinfo lists in mount order).
    mi = MountInfo{};
    mi.found = true;
    ours = i;
    mi.mnt_id = e.id;
    mi.kernel_dev = (e.major << 20) | e.minor;
    mi.read_only =
        has_mount_option(e.mount_options, "ro") || has_mount_option(e.super_options, "ro");
    mi.noexec = has_mount_option(e.mount_options, "noexec");
    mi.default_permissions = has_mount_option(e.super_options, "default_permissions");
    mi.allow_other = has_mount_option(e.super_options, "allow_other");
    std::string v;
    if (has_mount_option(e.super_options, "user_id", &v)) mi.user_id = std::stoul(v);
    if (has_mount_option(e.super_options, "group_id", &v)) mi.group_id = std::stoul(v);
  }
  if (!mi.found) return mi;
  std::string prefix = mountpoint == "/" ? "/" : mountpoint + "/";
  for (size_t i = ours + 1; i < all.size(); i++) {
    const std::string &p = all[i].mount_point;
    if (p == mountpoint || p == "/" || prefix.compare(0, p.size() + 1, p + "/") == 0)
      mi.covered = true;
  }
  for (const MountinfoEntry &e : all) {
    const std::string &p = e.mount_point;
    if (p.size() > prefix.size() && p.compare(0, prefix.size(), prefix) == 0)
      mi.nested.push_back(p.substr(prefix.size()));
  }
  return mi;
}

}  // namespace

MountInfo parse_mountinfo(const std::string &text, const std::string &mountpoint) {
  return from_entries(finesse::parse_mountinfo(text), mountpoint);
}

MountInfo read_mount_info(const std::string &mountpoint) {
  return from_entries(finesse::read_mountinfo(), mountpoint);
}

}  // namespace finesse::server
