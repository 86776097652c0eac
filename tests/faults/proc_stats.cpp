#include "proc_stats.h"

#include <dirent.h>

#include <fstream>

namespace finesse::testing {

int open_fd_count(pid_t pid) {
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR *d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent *e = readdir(d))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

namespace {

long status_kb(pid_t pid, const std::string &field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(field.size()));
  return -1;
}

}  // namespace

long rss_kb(pid_t pid) {
  return status_kb(pid, "VmRSS:");
}
long rss_anon_kb(pid_t pid) {
  return status_kb(pid, "RssAnon:");
}

int mapping_count(pid_t pid, const std::string &substring) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  if (!in) return -1;
  int n = 0;
  for (std::string line; std::getline(in, line);)
    if (line.find(substring) != std::string::npos) n++;
  return n;
}

}  // namespace finesse::testing
