/* The mount registry shared by finesse-loader (writer), the BPF programs and the clients
 * (readers). Plain C so that BPF code can include it. Pinned under FINESSE_PIN_DIR. */
#ifndef FINESSE_REGISTRY_ABI_H
#define FINESSE_REGISTRY_ABI_H

#ifdef __BPF__
typedef unsigned int finesse_u32;
typedef unsigned long long finesse_u64;
#else
#include <stdint.h>
typedef uint32_t finesse_u32;
typedef uint64_t finesse_u64;
#endif

#define FINESSE_PIN_DIR "/sys/fs/bpf/finesse"
#define FINESSE_MOUNTS_PIN FINESSE_PIN_DIR "/mounts"
#define FINESSE_META_PIN FINESSE_PIN_DIR "/meta"
#define FINESSE_REGISTRY_VERSION 1
#define FINESSE_MAX_MOUNTS 64
#define FINESSE_MOUNT_PATH_MAX 512
#define FINESSE_SOCKET_PATH_MAX 108

/* Value of the "mounts" hash map; the key is mnt_id (a finesse_u64). */
struct finesse_mount_entry {
  finesse_u32 version;    /* FINESSE_REGISTRY_VERSION */
  finesse_u32 server_pid; /* the daemon that serves the mount, verified by the loader */
  finesse_u64 mnt_id;     /* statx(STATX_MNT_ID) of the mount point */
  finesse_u32 kernel_dev; /* the kernel's s_dev: MAJOR << 20 | MINOR */
  finesse_u32 flags;
  finesse_u64 attach_generation;
  char mount_path[FINESSE_MOUNT_PATH_MAX];   /* canonical, as in /proc/self/mountinfo */
  char socket_path[FINESSE_SOCKET_PATH_MAX]; /* the server's Unix socket */
};

/* Single element of the "meta" array map: bumped on every attach and detach so that
 * clients can revalidate their cached copy of the registry with one lookup. */
struct finesse_registry_meta {
  finesse_u64 generation;
};

#endif
