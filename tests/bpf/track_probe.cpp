// Test helper: prints what the kernel-facts reader says about this process, so that tests can
// check the facts of a process set up by a shell or by exec.
//   finesse_track_probe fd 3 cwd   ->  "fd 3 mnt=41 nodeid=2 fh=0 ino=2" / "fd 3 none", "cwd ..."
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernel_facts.h"

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "cwd") == 0) {
      finesse::CwdFact c;
      if (finesse::cwd_fact(&c))
        printf("cwd mnt=%llu nodeid=%llu ino=%llu\n", (unsigned long long)c.mnt_id,
               (unsigned long long)c.nodeid, (unsigned long long)c.ino);
      else
        printf("cwd none\n");
    } else if (strcmp(argv[i], "fd") == 0 && i + 1 < argc) {
      int fd = atoi(argv[++i]);
      finesse::FdFact f;
      if (finesse::fd_fact(fd, &f))
        printf("fd %d mnt=%llu nodeid=%llu fh=%llu ino=%llu\n", fd, (unsigned long long)f.mnt_id,
               (unsigned long long)f.nodeid, (unsigned long long)f.fh, (unsigned long long)f.ino);
      else
        printf("fd %d none\n", fd);
    } else {
      fprintf(stderr, "usage: finesse_track_probe [fd N | cwd]...\n");
      return 2;
    }
  }
  return 0;
}
