// CPU time a process has used so far, all threads, in ns (from /proc/PID/task/*/schedstat):
// shows what a spinning bypass server costs besides the time the caller waits.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace finesse::bench {

uint64_t process_cpu_ns(pid_t pid);  // 0 if the process is gone

}  // namespace finesse::bench
