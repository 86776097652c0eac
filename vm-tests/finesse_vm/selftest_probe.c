/* The --self-test probe (vm-tests/finesse_vm/selftest.py): compiled on the host with
   `cc -O2` if a C compiler is present, run inside the guest as /finesse/bin/finesse-vm-probe. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* probe bpf                      create a BPF array map as the current user
   probe bpf-tracepoint           attach a trivial BPF program to syscalls/sys_enter_openat
   probe fuse-mount DIR           mount a FUSE connection on DIR via /dev/fuse, then detach
   probe runas UID GID CMD...     drop to UID/GID (no groups) and exec CMD */
int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "bpf")) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = 8;
    a.max_entries = 4;
    int fd = syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof a);
    if (fd < 0) {
      perror("bpf(BPF_MAP_CREATE)");
      return 1;
    }
    printf("bpf map fd %d\n", fd);
    return 0;
  }
  if (argc >= 2 && !strcmp(argv[1], "bpf-tracepoint")) {
    struct bpf_insn prog[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0}, /* r0 = 0 */
        {.code = BPF_JMP | BPF_EXIT},                                          /* exit   */
    };
    static char license[] = "GPL", logbuf[4096];
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_TRACEPOINT;
    a.insn_cnt = 2;
    a.insns = (unsigned long)prog;
    a.license = (unsigned long)license;
    a.log_buf = (unsigned long)logbuf;
    a.log_size = sizeof logbuf;
    a.log_level = 1;
    int pfd = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
    if (pfd < 0) {
      perror("bpf(BPF_PROG_LOAD)");
      fputs(logbuf, stderr);
      return 1;
    }
    FILE *f = fopen("/sys/kernel/tracing/events/syscalls/sys_enter_openat/id", "r");
    int id = -1;
    if (!f || fscanf(f, "%d", &id) != 1) {
      perror("tracepoint id");
      return 1;
    }
    struct perf_event_attr pe;
    memset(&pe, 0, sizeof pe);
    pe.type = PERF_TYPE_TRACEPOINT;
    pe.size = sizeof pe;
    pe.config = id;
    pe.sample_period = 1;
    int efd = syscall(SYS_perf_event_open, &pe, -1, 0, -1, 0);
    if (efd < 0) {
      perror("perf_event_open");
      return 1;
    }
    if (ioctl(efd, PERF_EVENT_IOC_SET_BPF, pfd)) {
      perror("PERF_EVENT_IOC_SET_BPF");
      return 1;
    }
    printf("BPF program attached to syscalls/sys_enter_openat (tracepoint id %d)\n", id);
    return 0;
  }
  if (argc == 3 && !strcmp(argv[1], "fuse-mount")) {
    int fd = open("/dev/fuse", O_RDWR);
    if (fd < 0) {
      perror("open /dev/fuse");
      return 1;
    }
    char opts[128];
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
    mkdir(argv[2], 0755);
    if (mount("probe", argv[2], "fuse", MS_NOSUID | MS_NODEV, opts)) {
      perror("mount fuse");
      return 1;
    }
    printf("mounted fuse on %s\n", argv[2]);
    if (umount2(argv[2], MNT_DETACH)) {
      perror("umount2");
      return 1;
    }
    return 0;
  }
  if (argc >= 5 && !strcmp(argv[1], "runas")) {
    gid_t gid = (gid_t)atoi(argv[3]);
    if (setgroups(0, NULL) || setgid(gid) || setuid((uid_t)atoi(argv[2]))) {
      perror("drop");
      return 1;
    }
    execvp(argv[4], argv + 4);
    perror("execvp");
    return 127;
  }
  fprintf(stderr, "usage: probe bpf | bpf-tracepoint | fuse-mount DIR | runas UID GID CMD...\n");
  return 2;
}
