// finesse-bench-probe: the tiny programs of the do-no-harm suite (harm_workload.h). Each run is
// one process doing one precise thing, so that its whole-process time is that thing plus the
// process's start and exit (with or without the shim, with or without the BPF programs).
//   finesse-bench-probe loop N PATH   open, fstat and close PATH, N times
//   finesse-bench-probe stat PATH     one stat of PATH
// Exits 0 on success, 1 when a call fails, 2 on a usage error. C, not C++: no libstdc++ to
// load, so the process is as small as a program can be.
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int loop(long n, const char *path) {
  struct stat st;
  for (long i = 0; i < n; ++i) {
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    const int rc = fstat(fd, &st);
    close(fd);
    if (rc != 0) return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "loop") == 0) {
    char *end = NULL;
    const long n = strtol(argv[2], &end, 10);
    if (end == argv[2] || *end != '\0' || n < 0) return 2;
    return loop(n, argv[3]);
  }
  if (argc == 3 && strcmp(argv[1], "stat") == 0) {
    struct stat st;
    return stat(argv[2], &st) == 0 ? 0 : 1;
  }
  return 2;
}
