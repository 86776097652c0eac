// What a process holds, read from /proc: used to check that the daemon's resources stay flat
// while clients come and go.
#pragma once

#include <sys/types.h>

#include <string>

namespace finesse::testing {

int open_fd_count(pid_t pid);  // entries of /proc/<pid>/fd
long rss_kb(pid_t pid);        // VmRSS of /proc/<pid>/status
long rss_anon_kb(pid_t pid);   // RssAnon: private memory only (no client regions)
int mapping_count(pid_t pid, const std::string &substring);  // lines of /proc/<pid>/maps

}  // namespace finesse::testing
