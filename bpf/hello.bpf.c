// SPDX-License-Identifier: GPL-2.0
/* Toolchain smoke test: counts openat() calls of one process and, on each successful return,
 * follows task->files->fdt->fd[ret] with CO-RE reads to record the new file's inode, file-system
 * magic and mount id. Later programs walk the same chains to recognise files on FUSE mounts. */
#include "finesse_kernel_types.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "hello.h"

char LICENSE[] SEC("license") = "GPL"; /* bpf_probe_read_kernel is GPL-only */

/* Set through skel->rodata before load; 0 traces every process. */
const volatile __u32 target_tgid = 0;

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct hello_stats);
} stats SEC(".maps");

static __always_inline struct hello_stats *target_stats(void) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  __u32 key = 0;

  if (target_tgid && tgid != target_tgid) return NULL;
  return bpf_map_lookup_elem(&stats, &key);
}

/* One bit per field of finesse_kernel_types.h that later programs rely on: libbpf resolves
 * each check against the kernel BTF at load time, so user space can see what is missing. */
#define CHECK_FIELD(bit, type, field) \
  (bpf_core_field_exists(((type *)0)->field) ? 0 : (1ULL << (bit)))

static __always_inline __u64 missing_fields(void) {
  return CHECK_FIELD(0, struct task_struct, pid) | CHECK_FIELD(1, struct task_struct, tgid) |
         CHECK_FIELD(2, struct task_struct, files) | CHECK_FIELD(3, struct task_struct, fs) |
         CHECK_FIELD(4, struct task_struct, real_parent) |
         CHECK_FIELD(5, struct files_struct, fdt) | CHECK_FIELD(6, struct fdtable, max_fds) |
         CHECK_FIELD(7, struct fdtable, fd) | CHECK_FIELD(8, struct file, f_inode) |
         CHECK_FIELD(9, struct file, f_path) | CHECK_FIELD(10, struct file, private_data) |
         CHECK_FIELD(11, struct path, mnt) | CHECK_FIELD(12, struct path, dentry) |
         CHECK_FIELD(13, struct vfsmount, mnt_sb) | CHECK_FIELD(14, struct mount, mnt) |
         CHECK_FIELD(15, struct mount, mnt_id) | CHECK_FIELD(16, struct inode, i_sb) |
         CHECK_FIELD(17, struct inode, i_ino) | CHECK_FIELD(18, struct inode, i_mode) |
         CHECK_FIELD(19, struct super_block, s_magic) |
         CHECK_FIELD(20, struct super_block, s_dev) | CHECK_FIELD(21, struct fs_struct, pwd) |
         CHECK_FIELD(22, struct dentry, d_inode) | CHECK_FIELD(23, struct fuse_file, nodeid) |
         CHECK_FIELD(24, struct fuse_file, fh);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int handle_enter_openat(struct trace_event_raw_sys_enter *ctx) {
  struct hello_stats *s = target_stats();

  if (s) __sync_fetch_and_add(&s->enter_calls, 1);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int handle_exit_openat(struct trace_event_raw_sys_exit *ctx) {
  struct hello_stats *s = target_stats();
  struct task_struct *task;
  struct fdtable *fdt;
  struct file **fds;
  struct file *file = NULL;
  struct vfsmount *vfsmnt;
  long fd = ctx->ret;

  if (!s) return 0;
  __sync_fetch_and_add(&s->exit_calls, 1);
  s->missing_fields = missing_fields();
  if (fd < 0) return 0;

  /* The fd is already installed when the syscall returns. Plain (non-BTF) task pointer, so
   * every hop is a bpf_probe_read_kernel at a CO-RE-relocated offset. */
  task = (struct task_struct *)bpf_get_current_task();
  fdt = BPF_CORE_READ(task, files, fdt);
  if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds)) return 0;
  fds = BPF_CORE_READ(fdt, fd);
  if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file) return 0;

  s->last_fd = fd;
  s->last_ino = BPF_CORE_READ(file, f_inode, i_ino);
  s->last_magic = BPF_CORE_READ(file, f_inode, i_sb, s_magic);
  vfsmnt = BPF_CORE_READ(file, f_path.mnt);
  s->last_mnt_id = BPF_CORE_READ(finesse_real_mount(vfsmnt), mnt_id);
  s->cwd_ino = BPF_CORE_READ(task, fs, pwd.dentry, d_inode, i_ino);
  return 0;
}
