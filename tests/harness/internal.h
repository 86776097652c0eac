// Pieces of the harness shared between its own source files; not for tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "mountinfo.h"

namespace finesse::testing::detail {

// Where every TempDir lives: /tmp/finesse-test-XXXXXX.
inline constexpr const char *kTempPrefix = "/tmp/finesse-test-";
// Files a TempDir / MountedFs leave in the temp dir so a later run can clean up after a
// test process that died without running any cleanup (SIGKILL).
inline constexpr const char *kOwnerFile = ".owner";    // pid of the test process
inline constexpr const char *kDaemonFile = ".daemon";  // pid of the daemon

// One line of /proc/self/mountinfo (read with finesse::read_mountinfo()).
using MountEntry = MountinfoEntry;
bool find_mount(const std::string &mount_point, MountEntry *out);

// Lazily detaches every mount at or below `dir`, deepest first. Never blocks on a daemon.
void detach_mounts_below(const std::string &dir);
// rm -rf that never crosses into a mount.
void remove_tree(const std::string &dir);

// Unmounts `mnt` without ever hanging: umount2(mnt, 0) in a helper process, retried on
// EBUSY for a short while; if that fails or blocks, aborts the FUSE connection (if fusectl
// is mounted), kills `daemon` and detaches the mount (MNT_DETACH). Returns true if the mount
// went away cleanly (then the daemon exits by itself), false if it had to be detached.
bool unmount_bounded(const std::string &mnt, unsigned conn_minor, pid_t daemon);

// Async-signal-safe record of the daemons and mount points of this process, used by the
// safety net when normal destructors cannot run.
void registry_add(const std::string &mnt);  // before the daemon is started
void registry_set_pid(const std::string &mnt, pid_t pid);
void registry_remove(const std::string &mnt);
// Detaches every registered mount and SIGKILLs its daemon. Async-signal-safe; does nothing
// in a forked child (only the process that installed the safety net acts).
void emergency_cleanup() noexcept;
void set_owner_pid(pid_t pid);

// Detaches mounts and kills daemons under /tmp/finesse-test-* whose owner is `owner`
// (or, when owner == 0, whose owner process is gone) and removes those temp dirs.
void sweep_temp_dirs(pid_t owner);

// Small helpers.
std::string read_text_file(const std::string &path);
bool process_gone(pid_t pid);  // no such process (a zombie still counts as present)
void sleep_for(std::chrono::milliseconds ms);

}  // namespace finesse::testing::detail
