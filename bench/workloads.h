// The measured operations and the three ways of calling them (the columns). One measurement
// is: untimed setup in a fresh, empty directory, then N timed calls on N distinct names.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace finesse::bench {

enum class Op {
  kStatHit,
  kStatMiss,
  kAccess,
  kCreate,
  kOpenClose,
  kUnlink,
  kMkdir,
  kRmdir,
  kRename,
  kChmod,
  kUtimens,
  kReaddir,
  kFstat,
  kStatBatch,    // 1000 stats: one finesse_batch in the bypass column
  kUnlinkBatch,  // 1000 unlinks: likewise
};

enum class Column {
  kNative,  // libc on the source directory
  kFuse,    // libc on the mount: the kernel FUSE path, the server loaded and attached
  kBypass,  // finesse_* on the same mount, attached
  // libc on a twin mount of the same daemon without libfinesse_fuse.so: kernel FUSE without
  // Finesse (the applications suite; kFuse beside it is what a static binary sees).
  kPlain,
};
inline constexpr Column kColumns[] = {Column::kNative, Column::kFuse, Column::kBypass};
inline constexpr Column kAppColumns[] = {Column::kNative, Column::kPlain, Column::kFuse,
                                         Column::kBypass};
inline constexpr int kColumnCount = 4;  // every Column, as array indexes

struct OpInfo {
  Op op;
  const char *key;    // for JSON
  const char *label;  // for the table
  bool bypassable;    // false: the kernel path in every column (there is no finesse_open)
  // Calls per measurement = --ops / divisor (a readdir call lists 1000 entries).
  size_t divisor = 1;
};
const std::vector<OpInfo> &all_ops();
const OpInfo &op_info(Op op);
const char *column_key(Column column);

struct Sample {
  double us_per_call = 0;
  uint64_t calls = 0;
  uint64_t failures = 0;  // calls whose outcome was not the expected one
  int first_errno = 0;    // errno of the first failure
  // Bypass column of a bypassable op: calls whose finesse_last_route() was not BYPASS, and
  // the client's own counters over the timed loop (a cross-check).
  uint64_t kernel_routed = 0;
  uint64_t client_bypassed = 0, client_kernel = 0;
  uint64_t server_cpu_ns = 0;  // the daemon's CPU time during the timed loop, all threads
  uint64_t client_cpu_ns = 0;  // the calling thread's CPU time during the timed loop
};

// One measurement of `op` in `dir`, which exists, is empty, and lies in the source tree for
// the native column and on the mount otherwise. Setup goes the way the column's directory
// suggests (natively, or the kernel path on the mount), never through the bypass.
Sample measure(Op op, Column column, const std::string &dir, size_t calls, pid_t daemon);

}  // namespace finesse::bench
