/* Shared between hello.bpf.c and its C++ users: the layout of the hello stats map value. */
#ifndef FINESSE_BPF_HELLO_H
#define FINESSE_BPF_HELLO_H

#include <linux/types.h>

/* Single entry (key 0) of the `stats` array map. */
struct hello_stats {
  __u64 enter_calls; /* openat() entries by the target tgid */
  __u64 exit_calls;  /* openat() returns by the target tgid */
  __s64 last_fd;     /* last fd returned by openat(), -1 before the first success */
  __u64 last_ino;    /* inode number of that fd's file */
  __u64 last_magic;  /* super_block.s_magic of that file (statfs f_type) */
  __s64 last_mnt_id; /* struct mount.mnt_id of that file (mnt_id in /proc/<pid>/fdinfo/<fd>) */
  __u64 cwd_ino;     /* inode number of the process's cwd (task->fs->pwd) at that call */
  /* Bit i set: field i of finesse_kernel_types.h's CO-RE checklist (see hello.bpf.c) is
   * missing from the running kernel's BTF. */
  __u64 missing_fields;
};

#endif /* FINESSE_BPF_HELLO_H */
