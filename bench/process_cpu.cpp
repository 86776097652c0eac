#include "process_cpu.h"

#include <dirent.h>

#include <cstdio>
#include <string>

namespace finesse::bench {

uint64_t process_cpu_ns(pid_t pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR *dir = opendir(tasks.c_str());
  if (dir == nullptr) return 0;
  uint64_t total = 0;
  while (const dirent *e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const std::string file = tasks + "/" + e->d_name + "/schedstat";
    if (FILE *f = std::fopen(file.c_str(), "r")) {
      unsigned long long on_cpu = 0;  // first field: time spent on the CPU, ns
      if (std::fscanf(f, "%llu", &on_cpu) == 1) total += on_cpu;
      std::fclose(f);
    }
  }
  closedir(dir);
  return total;
}

}  // namespace finesse::bench
