#include "mountinfo.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace finesse {

namespace {
bool is_octal(char c) {
  return c >= '0' && c <= '7';
}
}  // namespace

std::string unescape_mount_path(const std::string &s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size() && is_octal(s[i + 1]) && is_octal(s[i + 2]) &&
        is_octal(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool has_mount_option(const std::string &options, const std::string &name, std::string *value) {
  std::stringstream ss(options);
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

std::vector<MountinfoEntry> parse_mountinfo(const std::string &text) {
  std::vector<MountinfoEntry> out;
  std::stringstream lines(text);
  std::string line;
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
    MountinfoEntry e;
    char *end = nullptr;
    e.id = strtoull(f[0].c_str(), &end, 10);
    if (*end != '\0') continue;
    e.parent = strtoull(f[1].c_str(), nullptr, 10);
    if (sscanf(f[2].c_str(), "%u:%u", &e.major, &e.minor) != 2) continue;
    e.root = unescape_mount_path(f[3]);
    e.mount_point = unescape_mount_path(f[4]);
    e.mount_options = f[5];
    e.fstype = f[dash + 1];
    e.source = unescape_mount_path(f[dash + 2]);
    e.super_options = f.size() > dash + 3 ? f[dash + 3] : "";
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<MountinfoEntry> read_mountinfo() {
  int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string text;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
  close(fd);
  return parse_mountinfo(text);
}

}  // namespace finesse
