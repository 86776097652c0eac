// Runs a block of code with the caller's file-system uid/gid, so that files the daemon creates
// belong to the caller and the source file system checks the caller's permissions.
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace finesse::examples::passthrough {

// setfsuid/setfsgid act on the calling thread only (the raw syscalls, unlike setuid, are not
// broadcast to other threads by glibc), so concurrent requests do not interfere. The previous
// ids are restored on destruction. Ids the daemon may not assume are silently ignored by the
// kernel, which leaves an unprivileged daemon acting as itself.
class ScopedFsCredentials {
 public:
  ScopedFsCredentials(uid_t uid, gid_t gid)
      : old_gid_(static_cast<gid_t>(syscall(SYS_setfsgid, gid))),
        old_uid_(static_cast<uid_t>(syscall(SYS_setfsuid, uid))) {}
  ~ScopedFsCredentials() {
    syscall(SYS_setfsuid, old_uid_);
    syscall(SYS_setfsgid, old_gid_);
  }
  ScopedFsCredentials(const ScopedFsCredentials &) = delete;
  ScopedFsCredentials &operator=(const ScopedFsCredentials &) = delete;

 private:
  const gid_t old_gid_;  // set first, restored last
  const uid_t old_uid_;
};

}  // namespace finesse::examples::passthrough
