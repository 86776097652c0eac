// finesse-demo-workload DIR [N]: a metadata-heavy workload in plain libc calls, for
// `make demo`. In DIR it makes N directories and N files, stats them, changes their modes,
// renames and removes them, and prints "ops=<calls> usec=<elapsed>" on success. Run it
// natively, on a FUSE mount, and on a Finesse mount under LD_PRELOAD=libfinesse_preload.so:
// the program does not know which.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <string>

namespace {

long g_ops = 0;

bool ok(int rc, const char *what, const std::string &path) {
  g_ops++;
  if (rc == 0) return true;
  perror((std::string(what) + " " + path).c_str());
  return false;
}

long long now_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DIR [N]\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  int n = argc > 2 ? atoi(argv[2]) : 1000;
  if (n <= 0) n = 1000;
  long long start = now_us();
  struct stat st;
  for (int i = 0; i < n; i++) {
    std::string d = dir + "/d" + std::to_string(i), f = dir + "/f" + std::to_string(i);
    if (!ok(mkdir(d.c_str(), 0755), "mkdir", d)) return 1;
    int fd = open(f.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);  // creation: the kernel's
    if (!ok(fd < 0 ? -1 : close(fd), "create", f)) return 1;
  }
  for (int round = 0; round < 3; round++)
    for (int i = 0; i < n; i++) {
      std::string d = dir + "/d" + std::to_string(i), f = dir + "/f" + std::to_string(i);
      if (!ok(stat(d.c_str(), &st), "stat", d) || !ok(lstat(f.c_str(), &st), "lstat", f) ||
          !ok(access(f.c_str(), R_OK), "access", f))
        return 1;
    }
  for (int i = 0; i < n; i++) {
    std::string d = dir + "/d" + std::to_string(i), f = dir + "/f" + std::to_string(i);
    std::string g = dir + "/g" + std::to_string(i);
    if (!ok(chmod(f.c_str(), 0600), "chmod", f) || !ok(rename(f.c_str(), g.c_str()), "rename", f) ||
        !ok(stat(g.c_str(), &st), "stat", g) || !ok(unlink(g.c_str()), "unlink", g) ||
        !ok(rmdir(d.c_str()), "rmdir", d))
      return 1;
  }
  printf("ops=%ld usec=%lld\n", g_ops, now_us() - start);
  return 0;
}
