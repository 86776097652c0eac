// /proc/<pid>/mountinfo, parsed: the one reader of mount tables for the server, the tools and
// the tests. Never touches the mounted file systems themselves, so it is safe while a FUSE
// daemon is stopped or dead.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace finesse {

// One line: id parent major:minor root mount_point mount_options [optional...] - fstype
// source super_options. Paths are un-escaped.
struct MountinfoEntry {
  uint64_t id = 0;
  uint64_t parent = 0;
  unsigned major = 0, minor = 0;
  std::string root, mount_point, mount_options, fstype, source, super_options;
};

// In mount order (a later entry at the same point is on top). Malformed lines are skipped.
std::vector<MountinfoEntry> parse_mountinfo(const std::string &text);
// This process's mount table; empty if it cannot be read.
std::vector<MountinfoEntry> read_mountinfo();

// Un-escapes mountinfo's octal escapes (\040 for a space, \011, \012, \134).
std::string unescape_mount_path(const std::string &s);

// Whether the comma-separated options hold name, or name=value (value then set if asked).
bool has_mount_option(const std::string &options, const std::string &name,
                      std::string *value = nullptr);

}  // namespace finesse
