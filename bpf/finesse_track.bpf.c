// SPDX-License-Identifier: GPL-2.0
/* Kernel-side facts for Finesse clients, and the missed-bypass counters.
 *
 * Tracking: per process (tgid), which fds and which cwd sit on a mount of the registry (the
 * pinned "mounts" map, handed over by finesse-loader with bpf_map__reuse_fd). Every syscall
 * that installs an fd (open, openat, openat2, creat, dup, dup2, dup3, fcntl F_DUPFD*) rewrites
 * or deletes the entry of the fd it returns, from the file that is really in the fd table;
 * close deletes at entry (so a racing open of the same number by another thread is recorded
 * after it); close_range and exec revalidate every tracked fd against the fd table; fork
 * copies the entries the child really has; exit of the last thread drops everything.
 *
 * Credential changes: every commit of new credentials (fexit of commit_creds, where the
 * kernel can trace it; also the exits of the syscalls that change them) bumps the pinned
 * "cred_gen" counters, so that the server knows when to re-read a client's credentials.
 *
 * Missed bypasses: metadata syscalls that reach a registered mount through the kernel,
 * counted at entry by (mount, operation). Attribution from the kernel side: an fd argument by
 * the file in the fd table; a relative path by its dirfd's or the cwd's mount; an absolute
 * path by the longest registered mount path that is a prefix of it on a component boundary.
 */
#include "finesse_kernel_types.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "finesse_track.h"

char LICENSE[] SEC("license") = "GPL"; /* bpf_probe_read_kernel, bpf_loop */

#define FUSE_SUPER_MAGIC 0x65735546
#define AT_FDCWD -100
#define AT_REMOVEDIR 0x200
#define F_DUPFD 0
#define F_DUPFD_CLOEXEC 1030
#define F_NOTIFY 1026
#define FD_BLOCK 64 /* fds per bit of finesse_proc.blocks */
#define FD_BLOCKS (FINESSE_FD_TRACK_LIMIT / FD_BLOCK)

/* ---- maps ---------------------------------------------------------------------------- */

/* The registry (common/registry_abi.h); the loader reuses the pinned map's fd. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, FINESSE_MAX_MOUNTS);
  __type(key, __u64);
  __type(value, struct finesse_mount_entry);
} mounts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, FINESSE_MAX_TRACKED_FDS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct finesse_fd_key);
  __type(value, struct finesse_fd_fact);
} fds SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, FINESSE_MAX_TRACKED_PROCS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, __u32);
  __type(value, struct finesse_cwd_fact);
} cwds SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, FINESSE_MAX_MOUNTS *FINESSE_TRACK_OP_COUNT);
  __type(key, struct finesse_missed_key);
  __type(value, __u64);
} missed SEC(".maps");

/* Internal: which blocks of 64 fd numbers of a process ever held a tracked fd, so that exit,
 * exec, fork and close_range scan only those. Bytes are only ever set to 1 while the process
 * lives (racing threads cannot undo each other), and the entry goes at exit. */
struct finesse_proc {
  __u8 blocks[FD_BLOCKS];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, FINESSE_MAX_TRACKED_PROCS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, __u32);
  __type(value, struct finesse_proc);
} procs SEC(".maps");

/* Internal: the install counter behind finesse_fd_fact.generation. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} install_gen SEC(".maps");

/* Credential-change counters (finesse_track.h): per tgid slot, and one for all. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, FINESSE_CRED_GEN_SLOTS + 1);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, __u64);
} cred_gen SEC(".maps");

/* Cwd-change counters and the mount-change counter (finesse_track.h). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, FINESSE_MOUNT_GEN_INDEX + 1);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, __u64);
} cwd_gen SEC(".maps");

/* Watched mounts (finesse_track.h): counts per mount-id slot, and who made them. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, FINESSE_WATCHED_SLOTS + 1);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, __u64);
} watched SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, FINESSE_MAX_WATCHERS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct finesse_watcher_key);
  __type(value, __u8);
} watchers SEC(".maps");

/* Internal: processes with entries in watchers (so that exit looks there only for them). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, FINESSE_MAX_TRACKED_PROCS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, __u32);
  __type(value, __u8);
} watching SEC(".maps");

/* FINESSE_TRACK_ABI_VERSION, written by the loader: tells it which build is pinned. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} track_info SEC(".maps");

/* Internal: a user path under examination (too big for the 512-byte stack). */
struct path_buf {
  char path[FINESSE_MOUNT_PATH_MAX + 8];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct path_buf);
} path_scratch SEC(".maps");

__noinline int drop_watchers(__u32 tgid);
__noinline int copy_watchers(__u32 from, __u32 to);
__noinline int note_watch(__u64 mnt_id);
__noinline __u64 fd_mount(long fd);

/* ---- kernel structures ----------------------------------------------------------------- */

static __always_inline struct task_struct *current_task(void) {
  return (struct task_struct *)bpf_get_current_task();
}

static __always_inline __u32 current_tgid(void) {
  return bpf_get_current_pid_tgid() >> 32;
}

/* The fd array of a task's fd table (plain kernel addresses, read with probe reads). */
struct fd_table {
  struct file **fd;
  __u32 max_fds;
};

static __always_inline void task_fd_table(struct task_struct *task, struct fd_table *t) {
  struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);

  t->fd = fdt ? BPF_CORE_READ(fdt, fd) : NULL;
  t->max_fds = fdt ? BPF_CORE_READ(fdt, max_fds) : 0;
}

/* Set by the loader before the load: whether current_fd_table may read through the task's BTF
 * pointer (false: the probe reads of task_fd_table; the verifier then skips the other branch). */
const volatile __u8 use_task_btf = 1;

/* The current task's fd table, by plain loads through its BTF pointer where allowed: four
 * probe-read helper calls fewer on every open (about 90 ns of 350 here). */
static __always_inline void current_fd_table(struct fd_table *t) {
  struct task_struct *task;
  struct files_struct *files;
  struct fdtable *fdt;

  if (!use_task_btf) {
    task_fd_table(current_task(), t);
    return;
  }
  task = bpf_get_current_task_btf();
  files = task->files;
  fdt = files ? files->fdt : NULL;
  t->fd = fdt ? fdt->fd : NULL;
  t->max_fds = fdt ? fdt->max_fds : 0;
}

static __always_inline struct file *table_file(const struct fd_table *t, long fd) {
  struct file *file = NULL;

  if (!t->fd || fd < 0 || fd >= t->max_fds) return NULL;
  if (bpf_probe_read_kernel(&file, sizeof(file), &t->fd[fd])) return NULL;
  return file;
}

static __always_inline __u64 vfsmount_id(struct vfsmount *mnt) {
  if (!mnt) return 0;
  return (__u64)(__u32)BPF_CORE_READ(finesse_real_mount(mnt), mnt_id);
}

/* The mount id if it is in the registry, else 0. */
static __always_inline __u64 registered(__u64 mnt_id) {
  return mnt_id && bpf_map_lookup_elem(&mounts, &mnt_id) ? mnt_id : 0;
}

static __always_inline __u64 file_registered_mnt(struct file *file) {
  return file ? registered(vfsmount_id(BPF_CORE_READ(file, f_path.mnt))) : 0;
}

static __always_inline __u64 next_generation(void) {
  __u32 zero = 0;
  __u64 *g = bpf_map_lookup_elem(&install_gen, &zero);

  if (!g) return 0;
  return __sync_fetch_and_add(g, 1) + 1;
}

/* Node id of a FUSE inode; 0 (and no container_of guess) for anything else. */
static __always_inline __u64 fuse_nodeid(struct inode *inode) {
  if (!inode || BPF_CORE_READ(inode, i_sb, s_magic) != FUSE_SUPER_MAGIC) return 0;
  return BPF_CORE_READ(finesse_fuse_inode(inode), nodeid);
}

/* Fills fact if file sits on a registered FUSE mount. */
static __always_inline int classify_file(struct file *file, struct finesse_fd_fact *fact) {
  struct inode *inode;
  void *ff;

  fact->mnt_id = file_registered_mnt(file);
  if (!fact->mnt_id) return 0;
  inode = BPF_CORE_READ(file, f_inode);
  fact->nodeid = fuse_nodeid(inode);
  if (!fact->nodeid) return 0;
  fact->ino = BPF_CORE_READ(inode, i_ino);
  ff = BPF_CORE_READ(file, private_data); /* NULL for O_PATH files */
  fact->fh = ff ? BPF_CORE_READ((struct fuse_file *)ff, fh) : 0;
  fact->generation = next_generation();
  return 1;
}

/* ---- the fd map ------------------------------------------------------------------------- */

static __always_inline void mark_block(__u32 tgid, long fd) {
  struct finesse_proc *p = bpf_map_lookup_elem(&procs, &tgid);
  __u32 b = (__u32)fd / FD_BLOCK;

  if (b >= FD_BLOCKS) return;
  if (!p) {
    struct finesse_proc fresh = {};

    bpf_map_update_elem(&procs, &tgid, &fresh, BPF_NOEXIST);
    p = bpf_map_lookup_elem(&procs, &tgid);
    if (!p) return;
  }
  p->blocks[b] = 1;
}

/* Whether (tgid, fd) may have an entry: entries only exist in marked blocks (marked before
 * the entry is written). A lock-free lookup that spares the hash delete (which takes the
 * bucket lock) for every process and fd that never held a Finesse file. */
static __always_inline int block_marked(__u32 tgid, long fd) {
  struct finesse_proc *p;
  __u32 b = (__u32)fd / FD_BLOCK;

  if (b >= FD_BLOCKS) return 0;
  p = bpf_map_lookup_elem(&procs, &tgid);
  return p && p->blocks[b & (FD_BLOCKS - 1)]; /* the mask: a bound the verifier sees */
}

/* Makes the entry of (tgid, fd) say what the fd table holds now: the file's facts if it sits
 * on a registered mount, no entry otherwise. */
static __always_inline void refresh_fd(const struct fd_table *t, __u32 tgid, long fd) {
  struct finesse_fd_key key = {.tgid = tgid, .fd = (__s32)fd};
  struct finesse_fd_fact fact = {};

  if (fd < 0 || fd >= FINESSE_FD_TRACK_LIMIT) return; /* never tracked */
  if (classify_file(table_file(t, fd), &fact)) {
    mark_block(tgid, fd); /* before the entry exists, so exit always finds it */
    if (bpf_map_update_elem(&fds, &key, &fact, BPF_ANY) == 0) return;
  }
  if (block_marked(tgid, fd)) bpf_map_delete_elem(&fds, &key);
}

static __always_inline void refresh_current_fd(long fd) {
  struct fd_table t;

  if (fd < 0 || fd >= FINESSE_FD_TRACK_LIMIT) return;
  current_fd_table(&t);
  refresh_fd(&t, current_tgid(), fd);
}

/* Scans of a process's tracked fds (bpf_loop over the marked blocks, then their 64 fds). */
enum scan_mode {
  SCAN_DROP,       /* exit: delete every entry */
  SCAN_REVALIDATE, /* exec, close_range: refresh every entry against the fd table */
  SCAN_COPY,       /* fork: give the child the entries of the fds it really has */
};

struct scan_ctx {
  struct fd_table table; /* of the task whose entries are written */
  struct finesse_proc proc;
  __u32 tgid; /* entries read */
  __u32 dest; /* entries written (== tgid except for SCAN_COPY) */
  __u32 mode;
  __u32 base; /* first fd of the current block */
};

static long scan_fd(__u32 i, void *data) {
  struct scan_ctx *c = data;
  __s32 fd = (__s32)(c->base + i);
  struct finesse_fd_key key = {.tgid = c->tgid, .fd = fd};

  if (c->mode == SCAN_DROP) {
    bpf_map_delete_elem(&fds, &key);
  } else if (bpf_map_lookup_elem(&fds, &key)) {
    refresh_fd(&c->table, c->dest, fd);
  }
  return 0;
}

static long scan_block(__u32 b, void *data) {
  struct scan_ctx *c = data;

  if (b >= FD_BLOCKS || !c->proc.blocks[b]) return 0;
  c->base = b * FD_BLOCK;
  bpf_loop(FD_BLOCK, scan_fd, c, 0);
  return 0;
}

static __always_inline void scan_tracked(struct scan_ctx *c) {
  struct finesse_proc *p = bpf_map_lookup_elem(&procs, &c->tgid);

  if (!p) return;
  c->proc = *p;
  bpf_loop(FD_BLOCKS, scan_block, c, 0);
}

/* ---- the cwd map ------------------------------------------------------------------------ */

static __always_inline void refresh_cwd(void) {
  struct task_struct *task = current_task();
  __u32 tgid = current_tgid();
  struct finesse_cwd_fact fact = {};
  struct inode *inode;

  fact.mnt_id = registered(vfsmount_id(BPF_CORE_READ(task, fs, pwd.mnt)));
  if (fact.mnt_id) {
    inode = BPF_CORE_READ(task, fs, pwd.dentry, d_inode);
    fact.nodeid = fuse_nodeid(inode);
    fact.ino = BPF_CORE_READ(inode, i_ino);
    fact.generation = next_generation();
    if (fact.nodeid && bpf_map_update_elem(&cwds, &tgid, &fact, BPF_ANY) == 0) return;
  }
  if (bpf_map_lookup_elem(&cwds, &tgid)) bpf_map_delete_elem(&cwds, &tgid);
}

/* After the cwd changed: the caller's slot, then the global entry. */
static __always_inline void bump_cwd_gen(void) {
  __u32 slot = current_tgid() & (FINESSE_CWD_GEN_SLOTS - 1);
  __u32 all = FINESSE_CWD_GEN_SLOTS;
  __u64 *g = bpf_map_lookup_elem(&cwd_gen, &slot);

  if (g) __sync_fetch_and_add(g, 1);
  g = bpf_map_lookup_elem(&cwd_gen, &all);
  if (g) __sync_fetch_and_add(g, 1);
}

/* ---- syscall twins ---------------------------------------------------------------------- */

/* Each syscall tracepoint program below has a twin on the x86-64 syscall wrapper
 * __x64_sys_<name> (whose one argument is the caller's saved registers), made with these.
 * Once a program sits on any syscall tracepoint, every system call of every process takes
 * the slow syscall entry and exit path; a trampoline on a wrapper costs the calls of that
 * syscall only. The loader loads the twin instead of the tracepoint program where the kernel
 * lets tracing programs attach to the wrapper, else the tracepoint program
 * (loader/track_programs.cpp). The missed-bypass programs have none: they run only while
 * someone counts. */
#define SYS_FEXIT(name) \
  SEC("fexit/__x64_sys_" #name) int BPF_PROG(fexit_##name, struct pt_regs *regs, long ret)
#define SYS_FENTRY(name) \
  SEC("fentry/__x64_sys_" #name) int BPF_PROG(fentry_##name, struct pt_regs *regs)
#define REG(name) BPF_CORE_READ(regs, name)

/* ---- fd and cwd syscalls ---------------------------------------------------------------- */

SEC("tracepoint/syscalls/sys_exit_open")
int exit_open(struct trace_event_raw_sys_exit *ctx) {
  refresh_current_fd(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int exit_openat(struct trace_event_raw_sys_exit *ctx) {
  refresh_current_fd(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int exit_openat2(struct trace_event_raw_sys_exit *ctx) {
  refresh_current_fd(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_creat")
int exit_creat(struct trace_event_raw_sys_exit *ctx) {
  refresh_current_fd(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_dup")
int exit_dup(struct trace_event_raw_sys_exit *ctx) {
  refresh_current_fd(ctx->ret);
  return 0;
}

/* dup2/dup3 return newfd, which now names oldfd's file (whatever it named before). */
SEC("tracepoint/syscalls/sys_exit_dup2")
int exit_dup2(struct trace_event_raw_sys_exit *ctx) {
  refresh_current_fd(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_dup3")
int exit_dup3(struct trace_event_raw_sys_exit *ctx) {
  refresh_current_fd(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_fcntl")
int enter_fcntl(struct trace_event_raw_sys_enter *ctx) {
  if ((unsigned int)ctx->args[1] == F_NOTIFY) /* dnotify on a directory fd */
    note_watch(fd_mount((long)ctx->args[0]));
  return 0;
}

/* The command is read back from the caller's saved registers (fcntl leaves them alone): no
 * map between entry and exit, whose update and lookup cost more than the rest. */
static __always_inline void after_fcntl(struct pt_regs *regs, long ret) {
  unsigned int cmd;

  if (ret < 0 || ret >= FINESSE_FD_TRACK_LIMIT) return; /* no fd to track */
  cmd = (unsigned int)BPF_CORE_READ(regs, si);
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) refresh_current_fd(ret);
}

SEC("tracepoint/syscalls/sys_exit_fcntl")
int exit_fcntl(struct trace_event_raw_sys_exit *ctx) {
  if (ctx->ret < 0 || ctx->ret >= FINESSE_FD_TRACK_LIMIT) return 0; /* before the helpers */
  after_fcntl((struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf()), ctx->ret);
  return 0;
}

/* At entry: once close returns, another thread may get the same number, and its open must
 * not be undone by us. A failed close (EBADF) had nothing to track anyway. */
static __always_inline void before_close(long fd) {
  struct finesse_fd_key key = {.tgid = current_tgid(), .fd = (__s32)fd};

  if (block_marked(key.tgid, key.fd)) bpf_map_delete_elem(&fds, &key);
}

SEC("tracepoint/syscalls/sys_enter_close")
int enter_close(struct trace_event_raw_sys_enter *ctx) {
  before_close(ctx->args[0]);
  return 0;
}

/* The range may be huge (close_range(3, ~0U, 0)): revalidate the tracked fds instead. */
static __always_inline void after_close_range(long ret) {
  struct scan_ctx c = {.mode = SCAN_REVALIDATE};

  if (ret != 0) return;
  c.tgid = c.dest = current_tgid();
  if (!bpf_map_lookup_elem(&procs, &c.tgid)) return; /* never held a Finesse fd */
  task_fd_table(current_task(), &c.table);
  scan_tracked(&c);
}

SEC("tracepoint/syscalls/sys_exit_close_range")
int exit_close_range(struct trace_event_raw_sys_exit *ctx) {
  after_close_range(ctx->ret);
  return 0;
}

static __always_inline void after_chdir(long ret) {
  if (ret != 0) return;
  refresh_cwd();
  bump_cwd_gen(); /* after the fact: a server that then reads the cwd sees the new one */
}

SEC("tracepoint/syscalls/sys_exit_chdir")
int exit_chdir(struct trace_event_raw_sys_exit *ctx) {
  after_chdir(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_fchdir")
int exit_fchdir(struct trace_event_raw_sys_exit *ctx) {
  after_chdir(ctx->ret);
  return 0;
}

/* ---- processes -------------------------------------------------------------------------- */

/* BTF-typed so the child task is at hand: a new thread shares its process's entries, a new
 * process gets a copy of those its own fd table confirms, and the cwd. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child) {
  struct scan_ctx c = {.mode = SCAN_COPY};
  struct finesse_cwd_fact *cwd;
  struct finesse_proc *p;

  c.dest = BPF_CORE_READ(child, tgid);
  c.tgid = BPF_CORE_READ(parent, tgid);
  if (c.dest != (__u32)BPF_CORE_READ(child, pid) || c.dest == c.tgid) return 0; /* a thread */
  cwd = bpf_map_lookup_elem(&cwds, &c.tgid);
  if (cwd) {
    struct finesse_cwd_fact copy = *cwd;

    bpf_map_update_elem(&cwds, &c.dest, &copy, BPF_ANY);
  }
  copy_watchers(c.tgid, c.dest);
  p = bpf_map_lookup_elem(&procs, &c.tgid);
  if (!p) return 0;
  c.proc = *p;
  bpf_map_update_elem(&procs, &c.dest, &c.proc, BPF_ANY);
  task_fd_table(child, &c.table);
  bpf_loop(FD_BLOCKS, scan_block, &c, 0);
  return 0;
}

/* After exec the close-on-exec fds are gone (the cwd stays). */
SEC("tracepoint/sched/sched_process_exec")
int on_exec(void *ctx) {
  struct scan_ctx c = {.mode = SCAN_REVALIDATE};

  c.tgid = c.dest = current_tgid();
  if (!bpf_map_lookup_elem(&procs, &c.tgid)) return 0;
  task_fd_table(current_task(), &c.table);
  scan_tracked(&c);
  return 0;
}

/* Per thread; only the last one out (signal->live already 0) drops the process's entries. */
SEC("tracepoint/sched/sched_process_exit")
int on_exit(void *ctx) {
  struct task_struct *task = current_task();
  struct scan_ctx c = {.mode = SCAN_DROP};

  if (BPF_CORE_READ(task, signal, live.counter) != 0) return 0;
  c.tgid = c.dest = current_tgid();
  /* Lookups first: a delete of a missing key still takes the bucket lock. */
  if (bpf_map_lookup_elem(&procs, &c.tgid)) {
    scan_tracked(&c);
    bpf_map_delete_elem(&procs, &c.tgid);
  }
  if (bpf_map_lookup_elem(&cwds, &c.tgid)) bpf_map_delete_elem(&cwds, &c.tgid);
  drop_watchers(c.tgid);
  return 0;
}

/* ---- credential changes --------------------------------------------------------------- */

/* After the new credentials are in place (a reader that sees the new count and then reads
 * /proc sees them). The slot first: a reader checks the global entry first. */
static __always_inline void bump_cred_gen(void) {
  __u32 slot = current_tgid() & (FINESSE_CRED_GEN_SLOTS - 1);
  __u32 all = FINESSE_CRED_GEN_SLOTS;
  __u64 *g = bpf_map_lookup_elem(&cred_gen, &slot);

  if (g) __sync_fetch_and_add(g, 1);
  g = bpf_map_lookup_elem(&cred_gen, &all);
  if (g) __sync_fetch_and_add(g, 1);
}

/* Every change of a task's own credentials goes through commit_creds: set*id, setgroups,
 * capset, setfs*id, exec, unshare/setns of a user namespace, also ia32 system calls (which
 * the syscall tracepoints do not report). Loaded only where the kernel can trace it. */
SEC("fexit/commit_creds")
int BPF_PROG(on_commit_creds, void *new_creds, int ret) {
  bump_cred_gen();
  return 0;
}

/* The same from the syscall tracepoints (whatever the result), for kernels where
 * commit_creds cannot be traced. */
#define CRED_CHANGE(name)                                 \
  SEC("tracepoint/syscalls/sys_exit_" #name)              \
  int exit_##name(struct trace_event_raw_sys_exit *ctx) { \
    bump_cred_gen();                                      \
    return 0;                                             \
  }                                                       \
  SYS_FEXIT(name) {                                       \
    bump_cred_gen();                                      \
    return 0;                                             \
  }

CRED_CHANGE(setuid)
CRED_CHANGE(setgid)
CRED_CHANGE(setreuid)
CRED_CHANGE(setregid)
CRED_CHANGE(setresuid)
CRED_CHANGE(setresgid)
CRED_CHANGE(setfsuid)
CRED_CHANGE(setfsgid)
CRED_CHANGE(setgroups)
CRED_CHANGE(capset)

/* unshare and setns may also move the cwd (to the copy of its mount in a new mount
 * namespace, to the root of another one). */
#define CRED_AND_CWD_CHANGE(name)                         \
  SEC("tracepoint/syscalls/sys_exit_" #name)              \
  int exit_##name(struct trace_event_raw_sys_exit *ctx) { \
    bump_cred_gen();                                      \
    bump_cwd_gen();                                       \
    return 0;                                             \
  }                                                       \
  SYS_FEXIT(name) {                                       \
    bump_cred_gen();                                      \
    bump_cwd_gen();                                       \
    return 0;                                             \
  }

CRED_AND_CWD_CHANGE(unshare)
CRED_AND_CWD_CHANGE(setns)

/* ---- mount tables ----------------------------------------------------------------------- */

/* Any call that may have changed a mount table (whatever the result, at exit): the server
 * then checks that its mount still lies at its mount point (fuse-ext/kernel_watch.cpp). */
static __always_inline void bump_mount_gen(void) {
  __u32 key = FINESSE_MOUNT_GEN_INDEX;
  __u64 *g = bpf_map_lookup_elem(&cwd_gen, &key);

  if (g) __sync_fetch_and_add(g, 1);
}

#define MOUNT_CHANGE(name)                                \
  SEC("tracepoint/syscalls/sys_exit_" #name)              \
  int exit_##name(struct trace_event_raw_sys_exit *ctx) { \
    bump_mount_gen();                                     \
    return 0;                                             \
  }                                                       \
  SYS_FEXIT(name) {                                       \
    bump_mount_gen();                                     \
    return 0;                                             \
  }

MOUNT_CHANGE(mount)
MOUNT_CHANGE(umount)
MOUNT_CHANGE(oldumount)
MOUNT_CHANGE(move_mount)
MOUNT_CHANGE(mount_setattr)
MOUNT_CHANGE(pivot_root)

/* ---- missed bypasses -------------------------------------------------------------------- */

struct match_ctx {
  __u64 mnt_id;
  __u32 best_len;
};

/* Length of e's mount path if it prefixes b's path on a component boundary, else 0. Global,
 * so the verifier checks the byte loop once instead of once per mount and program. */
__noinline int mount_prefix_len(const struct finesse_mount_entry *e, const struct path_buf *b) {
  int i;

  if (!e || !b) return 0;
  for (i = 0; i < FINESSE_MOUNT_PATH_MAX - 1; i++) {
    char c = e->mount_path[i];

    if (!c) break;
    if (b->path[i] != c) return 0;
  }
  if (i < 2) return 0; /* "/" itself is never a Finesse mount */
  if (b->path[i] != '/' && b->path[i] != '\0') return 0;
  return i;
}

/* bpf_for_each_map_elem callback over the registry: the longest mount path that prefixes
 * the path in path_scratch. */
static long match_mount(void *map, __u64 *key, struct finesse_mount_entry *e, struct match_ctx *m) {
  __u32 zero = 0;
  struct path_buf *b = bpf_map_lookup_elem(&path_scratch, &zero);
  int len;

  if (!b) return 1;
  len = mount_prefix_len(e, b);
  if (len > 0 && (__u32)len > m->best_len) {
    m->mnt_id = *key;
    m->best_len = len;
  }
  return 0;
}

/* The registered mount of one of the current process's fds, or 0. */
static __always_inline __u64 fd_registered_mnt(long fd) {
  struct fd_table t;

  task_fd_table(current_task(), &t);
  return file_registered_mnt(table_file(&t, (int)fd));
}

/* The registered mount a (dirfd, path) argument pair names, or 0. Global (verified once). */
__noinline __u64 path_mount(long dirfd, __u64 upath) {
  struct task_struct *task = current_task();
  struct match_ctx m = {};
  struct path_buf *b;
  __u32 zero = 0;
  long n;

  b = bpf_map_lookup_elem(&path_scratch, &zero);
  if (!b || !upath) return 0;
  n = bpf_probe_read_user_str(b->path, FINESSE_MOUNT_PATH_MAX, (const void *)upath);
  if (n < 0) return 0;
  /* 6.1 and 6.12 (not 6.18) return 0, not 1, for an empty string (fstat's AT_EMPTY_PATH "") */
  if (n == 0) b->path[0] = '\0';
  if (b->path[0] == '/') {
    bpf_for_each_map_elem(&mounts, match_mount, &m, 0);
    return m.mnt_id;
  }
  /* Relative (or empty with AT_EMPTY_PATH): the base's mount. A "../" that leaves the mount
   * or a mount point crossed below the base is not seen. */
  if ((int)dirfd == AT_FDCWD) return registered(vfsmount_id(BPF_CORE_READ(task, fs, pwd.mnt)));
  return fd_registered_mnt((int)dirfd);
}

__noinline __u64 fd_mount(long fd) {
  return fd_registered_mnt((int)fd);
}

static __always_inline void count_missed(__u64 mnt_id, __u32 op) {
  struct finesse_missed_key key = {.mnt_id = mnt_id, .op = op};
  __u64 one = 1, *v;

  if (!mnt_id) return;
  v = bpf_map_lookup_elem(&missed, &key);
  if (!v) {
    if (bpf_map_update_elem(&missed, &key, &one, BPF_NOEXIST) == 0) return;
    v = bpf_map_lookup_elem(&missed, &key); /* another CPU created it */
    if (!v) return;
  }
  __sync_fetch_and_add(v, 1);
}

#define ARG(n) (ctx->args[n])
#define CWD ((long)AT_FDCWD)

/* A program counting `op` for the syscall's path argument `path`, relative to `dirfd`. */
#define MISSED_PATH(name, op, dirfd, path)                                \
  SEC("tracepoint/syscalls/sys_enter_" #name)                             \
  int missed_##name(struct trace_event_raw_sys_enter *ctx) {              \
    count_missed(path_mount((dirfd), (__u64)(path)), FINESSE_TRACK_##op); \
    return 0;                                                             \
  }

/* A program counting `op` for the syscall's fd argument. */
#define MISSED_FD(name, op, fd)                              \
  SEC("tracepoint/syscalls/sys_enter_" #name)                \
  int missed_##name(struct trace_event_raw_sys_enter *ctx) { \
    count_missed(fd_mount(fd), FINESSE_TRACK_##op);          \
    return 0;                                                \
  }

MISSED_PATH(newstat, STAT, CWD, ARG(0))
MISSED_PATH(newlstat, STAT, CWD, ARG(0))
MISSED_FD(newfstat, STAT, ARG(0))
MISSED_PATH(newfstatat, STAT, ARG(0), ARG(1))
MISSED_PATH(statx, STAT, ARG(0), ARG(1))

MISSED_PATH(access, ACCESS, CWD, ARG(0))
MISSED_PATH(faccessat, ACCESS, ARG(0), ARG(1))
MISSED_PATH(faccessat2, ACCESS, ARG(0), ARG(1))

MISSED_PATH(unlink, UNLINK, CWD, ARG(0))
MISSED_PATH(rmdir, RMDIR, CWD, ARG(0))
MISSED_PATH(mkdir, MKDIR, CWD, ARG(0))
MISSED_PATH(mkdirat, MKDIR, ARG(0), ARG(1))

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int missed_unlinkat(struct trace_event_raw_sys_enter *ctx) {
  __u32 op = (ARG(2) & AT_REMOVEDIR) ? FINESSE_TRACK_RMDIR : FINESSE_TRACK_UNLINK;

  count_missed(path_mount(ARG(0), ARG(1)), op);
  return 0;
}

MISSED_PATH(rename, RENAME, CWD, ARG(0))
MISSED_PATH(renameat, RENAME, ARG(0), ARG(1))
MISSED_PATH(renameat2, RENAME, ARG(0), ARG(1))

MISSED_PATH(chmod, SETATTR, CWD, ARG(0))
MISSED_FD(fchmod, SETATTR, ARG(0))
MISSED_PATH(fchmodat, SETATTR, ARG(0), ARG(1))
MISSED_PATH(fchmodat2, SETATTR, ARG(0), ARG(1))
MISSED_PATH(chown, SETATTR, CWD, ARG(0))
MISSED_PATH(lchown, SETATTR, CWD, ARG(0))
MISSED_FD(fchown, SETATTR, ARG(0))
MISSED_PATH(fchownat, SETATTR, ARG(0), ARG(1))
MISSED_PATH(truncate, SETATTR, CWD, ARG(0))
MISSED_FD(ftruncate, SETATTR, ARG(0))
MISSED_PATH(utime, SETATTR, CWD, ARG(0))
MISSED_PATH(utimes, SETATTR, CWD, ARG(0))
MISSED_PATH(futimesat, SETATTR, ARG(0), ARG(1))

/* utimensat(fd, NULL, ...) is futimens(fd). */
SEC("tracepoint/syscalls/sys_enter_utimensat")
int missed_utimensat(struct trace_event_raw_sys_enter *ctx) {
  __u64 mnt = ARG(1) ? path_mount(ARG(0), ARG(1)) : fd_mount(ARG(0));

  count_missed(mnt, FINESSE_TRACK_SETATTR);
  return 0;
}

MISSED_PATH(readlink, READLINK, CWD, ARG(0))
MISSED_PATH(readlinkat, READLINK, ARG(0), ARG(1))
MISSED_PATH(symlink, SYMLINK, CWD, ARG(1))
MISSED_PATH(symlinkat, SYMLINK, ARG(1), ARG(2))
MISSED_PATH(link, LINK, CWD, ARG(0))
MISSED_PATH(linkat, LINK, ARG(0), ARG(1))

MISSED_PATH(statfs, STATFS, CWD, ARG(0))
MISSED_FD(fstatfs, STATFS, ARG(0))

MISSED_PATH(getxattr, GETXATTR, CWD, ARG(0))
MISSED_PATH(lgetxattr, GETXATTR, CWD, ARG(0))
MISSED_FD(fgetxattr, GETXATTR, ARG(0))
MISSED_PATH(getxattrat, GETXATTR, ARG(0), ARG(1))
MISSED_PATH(listxattr, LISTXATTR, CWD, ARG(0))
MISSED_PATH(llistxattr, LISTXATTR, CWD, ARG(0))
MISSED_FD(flistxattr, LISTXATTR, ARG(0))
MISSED_PATH(listxattrat, LISTXATTR, ARG(0), ARG(1))

/* ---- watches ---------------------------------------------------------------------------- */

/* The current process asked for change events on registered mount mnt_id (or is about to):
 * count the pair once in the mount's slot of "watched". If the pair cannot be recorded (map
 * full), the slot is moved for good: watched until the programs are reloaded. */
__noinline int note_watch(__u64 mnt_id) {
  struct finesse_watcher_key key = {.mnt_id = mnt_id, .tgid = current_tgid()};
  __u32 slot = (__u32)mnt_id & (FINESSE_WATCHED_SLOTS - 1);
  __u8 one = 1;
  __u64 *n;

  if (!mnt_id) return 0;
  if (bpf_map_lookup_elem(&watchers, &key)) return 0;
  n = bpf_map_lookup_elem(&watched, &slot);
  if (!n) return 0;
  /* The count first: a server must never see the pair before the slot moved. */
  __sync_fetch_and_add(n, 1);
  if (bpf_map_update_elem(&watchers, &key, &one, BPF_NOEXIST) != 0) {
    if (bpf_map_lookup_elem(&watchers, &key)) __sync_fetch_and_sub(n, 1); /* another thread */
    return 0;
  }
  bpf_map_update_elem(&watching, &key.tgid, &one, BPF_ANY);
  return 0;
}

/* inotify_add_watch and fanotify_mark ask the LSM layer about the path they mark, on every
 * kernel since 5.3: the exact mount. Loaded where tracing programs are allowed; the syscall
 * tracepoints below see the same calls by their path arguments elsewhere. */
SEC("fentry/security_path_notify")
int BPF_PROG(on_path_notify, const struct path *path, __u64 mask, unsigned int obj_type) {
  note_watch(registered(vfsmount_id(BPF_CORE_READ(path, mnt))));
  return 0;
}

/* At entry (a failed call counts too): the mount named by the path argument, with the limits
 * of path_mount (no symlink followed, no ".." seen). */
SEC("tracepoint/syscalls/sys_enter_inotify_add_watch")
int enter_inotify_add_watch(struct trace_event_raw_sys_enter *ctx) {
  note_watch(path_mount(AT_FDCWD, ARG(1)));
  return 0;
}

/* fanotify_mark(fd, flags, mask, dirfd, pathname): a NULL pathname marks dirfd itself. */
SEC("tracepoint/syscalls/sys_enter_fanotify_mark")
int enter_fanotify_mark(struct trace_event_raw_sys_enter *ctx) {
  note_watch(ARG(4) ? path_mount(ARG(3), ARG(4)) : fd_mount(ARG(3)));
  return 0;
}

struct drop_ctx {
  __u32 tgid;
};

static long drop_watcher(void *map, struct finesse_watcher_key *key, __u8 *v, struct drop_ctx *d) {
  __u32 slot;
  __u64 *n;

  if (key->tgid != d->tgid) return 0;
  slot = (__u32)key->mnt_id & (FINESSE_WATCHED_SLOTS - 1);
  n = bpf_map_lookup_elem(&watched, &slot);
  /* The pair first, then the count: the slot is never 0 while a pair says watched. */
  if (bpf_map_delete_elem(&watchers, key) == 0 && n) __sync_fetch_and_sub(n, 1);
  return 0;
}

struct copy_ctx {
  __u32 from;
  __u32 to;
};

static long copy_watcher(void *map, struct finesse_watcher_key *key, __u8 *v, struct copy_ctx *c) {
  struct finesse_watcher_key k = {.mnt_id = key->mnt_id, .tgid = c->to};
  __u32 slot = (__u32)k.mnt_id & (FINESSE_WATCHED_SLOTS - 1);
  __u8 one = 1;
  __u64 *n;

  if (key->tgid != c->from) return 0;
  n = bpf_map_lookup_elem(&watched, &slot);
  if (!n) return 0;
  __sync_fetch_and_add(n, 1); /* as note_watch: the count first, kept if the map is full */
  if (bpf_map_update_elem(&watchers, &k, &one, BPF_NOEXIST) != 0 &&
      bpf_map_lookup_elem(&watchers, &k))
    __sync_fetch_and_sub(n, 1);
  return 0;
}

/* Called by on_fork: a child may inherit the watcher's inotify/fanotify fd and outlive it
 * (inotifywait --daemon), so it counts as a watcher of the same mounts until it exits. */
__noinline int copy_watchers(__u32 from, __u32 to) {
  struct copy_ctx c = {.from = from, .to = to};
  __u8 one = 1;

  if (!bpf_map_lookup_elem(&watching, &from)) return 0;
  bpf_map_update_elem(&watching, &to, &one, BPF_ANY); /* first: its exit finds the pairs */
  bpf_for_each_map_elem(&watchers, copy_watcher, &c, 0);
  return 0;
}

/* Called by on_exit for the last thread of a process: its watches are gone with its fds
 * (unless it handed the inotify or fanotify fd to another process: docs/security.md). */
__noinline int drop_watchers(__u32 tgid) {
  struct drop_ctx d = {.tgid = tgid};

  if (!bpf_map_lookup_elem(&watching, &tgid)) return 0;
  bpf_for_each_map_elem(&watchers, drop_watcher, &d, 0);
  bpf_map_delete_elem(&watching, &tgid);
  return 0;
}

/* ---- twins of the fd, cwd and watch programs (see "syscall twins") ---------------------- */

#define FD_RESULT_TWIN(name) \
  SYS_FEXIT(name) {          \
    refresh_current_fd(ret); \
    return 0;                \
  }

FD_RESULT_TWIN(open)
FD_RESULT_TWIN(openat)
FD_RESULT_TWIN(openat2)
FD_RESULT_TWIN(creat)
FD_RESULT_TWIN(dup)
FD_RESULT_TWIN(dup2)
FD_RESULT_TWIN(dup3)

SYS_FENTRY(fcntl) {
  if ((unsigned int)REG(si) == F_NOTIFY) note_watch(fd_mount((long)REG(di)));
  return 0;
}

SYS_FEXIT(fcntl) {
  after_fcntl(regs, ret);
  return 0;
}

SYS_FENTRY(close) {
  before_close((long)REG(di));
  return 0;
}

SYS_FEXIT(close_range) {
  after_close_range(ret);
  return 0;
}

SYS_FEXIT(chdir) {
  after_chdir(ret);
  return 0;
}

SYS_FEXIT(fchdir) {
  after_chdir(ret);
  return 0;
}

SYS_FENTRY(inotify_add_watch) {
  note_watch(path_mount(AT_FDCWD, REG(si)));
  return 0;
}

/* fanotify_mark(fd, flags, mask, dirfd, pathname): arguments 4 and 5 in r10 and r8. */
SYS_FENTRY(fanotify_mark) {
  __u64 path = REG(r8);

  note_watch(path ? path_mount((long)REG(r10), path) : fd_mount((long)REG(r10)));
  return 0;
}
