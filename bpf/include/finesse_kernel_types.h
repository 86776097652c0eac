/* Hand-written CO-RE view of the few kernel types Finesse's BPF programs read.
 *
 * Instead of a multi-megabyte generated vmlinux.h, each struct below names only the fields we
 * use. preserve_access_index makes clang record every field access as a BTF relocation, and
 * libbpf rewrites the offsets against the running kernel's BTF at load time, so member order,
 * padding and missing fields here do not matter -- only the names and types of the fields
 * accessed must match the kernel. Fields that live in anonymous unions in the kernel (e.g.
 * file.f_path) can be declared as plain members: libbpf looks through anonymous members.
 *
 * Include this first, then <bpf/bpf_helpers.h>, <bpf/bpf_core_read.h>, <bpf/bpf_tracing.h>.
 */
#ifndef FINESSE_KERNEL_TYPES_H
#define FINESSE_KERNEL_TYPES_H

#include <linux/types.h> /* __u8..__u64, __s32..., __be32, ... */
#include <linux/bpf.h>   /* BPF_MAP_TYPE_*, BPF_ANY, ... (UAPI, stable) */

typedef __u8 u8;
typedef __s8 s8;
typedef __u16 u16;
typedef __s16 s16;
typedef __u32 u32;
typedef __s32 s32;
typedef __u64 u64;
typedef __s64 s64;
typedef int pid_t;
typedef unsigned short umode_t;
typedef u32 dev_t;
typedef long long loff_t;

#ifndef NULL
#define NULL ((void *)0)
#endif

/* Marks a struct for CO-RE: every field access becomes a BTF relocation. */
#define __finesse_core __attribute__((preserve_access_index))

struct __finesse_core super_block {
  dev_t s_dev;
  unsigned long s_magic;
};

struct __finesse_core inode {
  umode_t i_mode;
  struct super_block *i_sb;
  unsigned long i_ino;
};

struct __finesse_core dentry {
  struct inode *d_inode;
};

struct __finesse_core vfsmount {
  struct dentry *mnt_root;
  struct super_block *mnt_sb;
};

/* The kernel-private struct mount embeds the vfsmount that struct path points at; get from
 * one to the other with finesse_real_mount() below. */
struct __finesse_core mount {
  struct mount *mnt_parent;
  struct vfsmount mnt;
  int mnt_id;
};

struct __finesse_core path {
  struct vfsmount *mnt;
  struct dentry *dentry;
};

struct __finesse_core file {
  void *private_data; /* struct fuse_file * on FUSE files */
  struct inode *f_inode;
  struct path f_path; /* in an anonymous union with __f_path since 6.12 */
};

struct __finesse_core fdtable {
  unsigned int max_fds;
  struct file **fd;
};

struct __finesse_core files_struct {
  struct fdtable *fdt;
};

struct __finesse_core fs_struct {
  struct path root;
  struct path pwd;
};

/* include/linux/types.h */
typedef struct {
  int counter;
} atomic_t;

struct __finesse_core signal_struct {
  atomic_t live; /* threads not yet past do_exit's group_dead check */
};

struct __finesse_core task_struct {
  pid_t pid;
  pid_t tgid;
  struct task_struct *real_parent;
  struct signal_struct *signal;
  struct fs_struct *fs;
  struct files_struct *files;
};

/* fs/fuse/fuse_i.h: file->private_data of an open FUSE file. */
struct __finesse_core fuse_file {
  u64 fh;
  u64 nodeid;
};

/* fs/fuse/fuse_i.h: the FUSE inode embeds the VFS inode (get_fuse_inode is container_of). */
struct __finesse_core fuse_inode {
  struct inode inode;
  u64 nodeid;
};

#define finesse_fuse_inode(vfs_inode) \
  ((struct fuse_inode *)((void *)(vfs_inode) - bpf_core_field_offset(struct fuse_inode, inode)))

/* x86-64 user registers saved at syscall entry (bpf_task_pt_regs; the argument of the
 * __x64_sys_* wrappers): syscall arguments 1-5 in di, si, dx, r10, r8. */
struct __finesse_core pt_regs {
  unsigned long di;
  unsigned long si;
  unsigned long dx;
  unsigned long r10;
  unsigned long r8;
};

/* Tracepoint contexts. raw_syscalls/sys_{enter,exit} use exactly these; the per-syscall
 * syscalls/sys_{enter,exit}_<name> events share the layout (args at 16, ret at 16), except
 * that their syscall number is an int, so read only the low 32 bits of id there. */
struct __finesse_core trace_entry {
  unsigned short type;
  unsigned char flags;
  unsigned char preempt_count;
  int pid;
};

struct __finesse_core trace_event_raw_sys_enter {
  struct trace_entry ent;
  long id;
  unsigned long args[6];
};

struct __finesse_core trace_event_raw_sys_exit {
  struct trace_entry ent;
  long id;
  long ret;
};

/* container_of for struct mount, with the offset of mount.mnt relocated against the kernel. */
#define finesse_real_mount(vfsmnt) \
  ((struct mount *)((void *)(vfsmnt) - bpf_core_field_offset(struct mount, mnt)))

#endif /* FINESSE_KERNEL_TYPES_H */
