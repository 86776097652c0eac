// Control messages on the server's Unix socket (after a kControl hello): used by
// finesse-loader to find, verify, detach and read counters from a server.
#pragma once

#include <cstdint>

#include "registry_abi.h"
#include "wire.h"

namespace finesse::control {

enum class Op : uint32_t {
  kInfo = 1,   // -> Info
  kChallenge,  // arg: nonce; -> status 0 if a kernel lookup of kChallengePrefix+nonce was seen
  kStats,      // -> Stats
  kDetach,     // root only: close every client connection (they fall back to the kernel)
  kFlush,      // root only: forget every cached lookup (tests use it to check balance)
};

// A kernel lookup of "<mount>/<kChallengePrefix><nonce>" proves which server serves a mount.
constexpr const char *kChallengePrefix = ".finesse-challenge-";

struct Request {
  uint32_t magic;
  Op op;
  char arg[64];
};

constexpr uint32_t kDefaultPermissions = 1u << 0;
constexpr uint32_t kAllowOther = 1u << 1;

struct Info {
  uint32_t pid;
  uint32_t flags;  // kDefaultPermissions, kAllowOther
  uint64_t mnt_id;
  uint32_t kernel_dev;
  uint32_t clients;
  char mount_path[FINESSE_MOUNT_PATH_MAX];
};

struct Stats {
  uint64_t served[wire::kOpCount];    // answered over shared memory
  uint64_t fallback[wire::kOpCount];  // answered FALLBACK (client used the kernel)
  uint64_t kernel_ops;                // requests the file system got through /dev/fuse
  uint64_t clients_total;
  uint64_t clients_active;
  uint64_t lookups_held;  // lookups the server holds on the file system (balanced by forget)
  uint64_t fs_calls;      // calls the server made to the file system's ops for clients
  uint64_t wakeups;       // times the server's leading thread woke from sleep
};

struct Reply {
  uint32_t magic;
  int32_t status;  // 0 or -errno
  union {
    Info info;
    Stats stats;
  };
};

}  // namespace finesse::control
