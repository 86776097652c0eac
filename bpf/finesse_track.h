/* Shared between finesse_track.bpf.c, finesse-loader and the client's kernel-facts reader:
 * the pinned maps in which the BPF programs keep which fds and which cwd of each process sit
 * on a registered Finesse mount, and the missed-bypass counters. Plain C, <linux/types.h>
 * types only; every struct is padded explicitly so both sides agree on the layout. */
#ifndef FINESSE_BPF_TRACK_H
#define FINESSE_BPF_TRACK_H

#include <linux/types.h>

#include "op_list.h"
#include "registry_abi.h" /* FINESSE_PIN_DIR */

/* Readable by every user (mode 0644; open them with BPF_F_RDONLY). */
#define FINESSE_FDS_PIN FINESSE_PIN_DIR "/fds"
#define FINESSE_CWDS_PIN FINESSE_PIN_DIR "/cwds"
#define FINESSE_MISSED_PIN FINESSE_PIN_DIR "/missed"
/* Credential-change counters (array, BPF_F_MMAPABLE: mapped through a read-write fd, i.e. by
 * root; read-only fds cannot map it and read it with lookups): entry
 * tgid & (FINESSE_CRED_GEN_SLOTS - 1) counts the credential changes of the processes of that
 * slot, entry FINESSE_CRED_GEN_SLOTS those of every process. Bumped after the change is
 * committed; FINESSE_CRED_GEN_DEAD set in the global entry by the loader before it unloads
 * the programs (from then on nothing counts). tgids are the initial pid namespace's. */
#define FINESSE_CRED_GEN_PIN FINESSE_PIN_DIR "/cred_gen"
#define FINESSE_CRED_GEN_SLOTS 65536
#define FINESSE_CRED_GEN_DEAD (1ULL << 63)
/* Cwd-change counters, laid out like cred_gen (same slots, global entry at
 * FINESSE_CWD_GEN_SLOTS, FINESSE_CRED_GEN_DEAD set there by the loader before it unloads):
 * moved after every successful chdir/fchdir and after every unshare/setns (a new mount
 * namespace moves the cwd to a copy of its mount). The server compares a client's slot with
 * the value at which it last checked the client's real cwd (fuse-ext/kernel_watch.cpp).
 * Entry FINESSE_CWD_GEN_SLOTS + 1 counts the calls that may have changed a mount table
 * (mount, umount, move_mount, mount_setattr, pivot_root), at exit. */
#define FINESSE_CWD_GEN_PIN FINESSE_PIN_DIR "/cwd_gen"
#define FINESSE_CWD_GEN_SLOTS FINESSE_CRED_GEN_SLOTS
#define FINESSE_MOUNT_GEN_INDEX (FINESSE_CWD_GEN_SLOTS + 1)
/* Watched mounts (array, BPF_F_MMAPABLE like cred_gen): entry mnt_id & (FINESSE_WATCHED_SLOTS
 * - 1) counts the (process, mount) pairs for which an inotify watch, a fanotify mark or a
 * dnotify (F_NOTIFY) request was made on that registered mount; a process's pairs are dropped
 * when it exits. Entry FINESSE_WATCHED_SLOTS holds FINESSE_CRED_GEN_DEAD while unloading.
 * Mutations through the bypass raise no fsnotify event: the server sends them to the kernel
 * while the mount's entry is not 0. */
#define FINESSE_WATCHED_PIN FINESSE_PIN_DIR "/watched"
#define FINESSE_WATCHED_SLOTS 4096
#define FINESSE_MAX_WATCHERS 4096 /* entries of the internal watchers map */
/* One pinned link per program (mode 0600): they keep the programs attached after the
 * loader exits; unpinning them all detaches and frees the programs and their maps. */
#define FINESSE_LINKS_DIR FINESSE_PIN_DIR "/links"
/* The missed-bypass counting programs (named with this prefix) run on every stat, access,
 * ... of every process: they are loaded and attached only while counting is on
 * (finesse-loader missed on|off); their links sit in FINESSE_LINKS_DIR too. */
#define FINESSE_MISSED_PROG_PREFIX "missed_"
/* Array map (one __u64: FINESSE_TRACK_ABI_VERSION), pinned last by the loader: programs of
 * another layout found pinned are replaced. Bump it whenever a map or program changes. */
#define FINESSE_TRACK_INFO_PIN FINESSE_PIN_DIR "/track_info"
#define FINESSE_TRACK_ABI_VERSION 5

#define FINESSE_MAX_TRACKED_FDS 65536  /* entries of the fds map */
#define FINESSE_MAX_TRACKED_PROCS 8192 /* entries of the cwds and procs maps */
/* Fds at or above this number are never tracked: exit, exec and fork scan [0, limit). */
#define FINESSE_FD_TRACK_LIMIT 4096

/* Key of the "fds" hash map. */
struct finesse_fd_key {
  __u32 tgid; /* process (thread group) id, as getpid() returns it */
  __s32 fd;
};

/* Value of the "fds" hash map: an fd on a registered Finesse mount. */
struct finesse_fd_fact {
  __u64 mnt_id;     /* struct mount.mnt_id: the registry key (statx STATX_MNT_ID) */
  __u64 nodeid;     /* FUSE node id of the file's inode (fuse_inode.nodeid) */
  __u64 fh;         /* FUSE file handle (fuse_file.fh); 0 for O_PATH fds */
  __u64 ino;        /* inode.i_ino (st_ino) */
  __u64 generation; /* global install counter: changes whenever the entry is rewritten */
};

/* Value of the "cwds" hash map (key: __u32 tgid): a cwd on a registered Finesse mount. */
struct finesse_cwd_fact {
  __u64 mnt_id;
  __u64 nodeid;
  __u64 ino;
  __u64 generation;
};

/* Key of the internal "watchers" hash map: a process that asked for events on a mount. */
struct finesse_watcher_key {
  __u64 mnt_id;
  __u32 tgid;
  __u32 pad;
};

/* Operations of the missed-bypass counters: the numbers of finesse::wire::Op (op_list.h).
 * Counted by: STAT stat, lstat, fstat, newfstatat, statx; ACCESS access, faccessat,
 * faccessat2; UNLINK unlink, unlinkat; RMDIR rmdir, unlinkat(AT_REMOVEDIR); MKDIR mkdir,
 * mkdirat; RENAME rename, renameat, renameat2 (by the old name); SETATTR the chmod, chown,
 * truncate and utimes families, path and fd forms; READLINK readlink, readlinkat; SYMLINK
 * symlink, symlinkat (by the new link's name); LINK link, linkat (by the existing name);
 * STATFS statfs, fstatfs; GETXATTR getxattr, lgetxattr, fgetxattr, getxattrat; LISTXATTR
 * listxattr, llistxattr, flistxattr, listxattrat. */
enum finesse_track_op {
#define FINESSE_TRACK_OP(n, Camel, lower, UPPER) FINESSE_TRACK_##UPPER = n,
  FINESSE_OPS(FINESSE_TRACK_OP)
#undef FINESSE_TRACK_OP
      FINESSE_TRACK_OP_COUNT = FINESSE_OP_END,
};

/* Key of the "missed" hash map; the value is a __u64 count of calls that reached the
 * mount through the kernel (counted at syscall entry, whatever their result). */
struct finesse_missed_key {
  __u64 mnt_id;
  __u32 op; /* enum finesse_track_op */
  __u32 pad;
};

#endif /* FINESSE_BPF_TRACK_H */
