// Running a function as another user in a forked child.
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "harness.h"

namespace finesse::testing {
namespace {

// Order matters: groups and gid can only be changed while still root.
bool drop_to(uid_t uid, gid_t gid, const std::vector<gid_t> &groups) {
  if (setgroups(groups.size(), groups.data()) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
    std::fprintf(stderr, "run_as: dropping to %u:%u failed: %s\n", uid, gid, strerror(errno));
    return false;
  }
  // Verify rather than trust: a silently ignored setuid would make every check vacuous.
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  getresuid(&ruid, &euid, &suid);
  getresgid(&rgid, &egid, &sgid);
  std::vector<gid_t> now(static_cast<size_t>(std::max(getgroups(0, nullptr), 0)));
  getgroups(static_cast<int>(now.size()), now.data());
  std::vector<gid_t> wanted = groups;
  std::sort(now.begin(), now.end());
  std::sort(wanted.begin(), wanted.end());
  if (ruid != uid || euid != uid || suid != uid || rgid != gid || egid != gid || sgid != gid ||
      now != wanted) {
    std::fprintf(stderr, "run_as: credentials did not take effect\n");
    return false;
  }
  return true;
}

int run_guarded(const std::function<int()> &fn) {
  try {
    return fn();
  } catch (const std::exception &e) {
    std::fprintf(stderr, "run_as: function threw: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "run_as: function threw\n");
  }
  return kRunAsThrew;
}

}  // namespace

int run_as(std::function<int()> fn, uid_t uid, gid_t gid, std::vector<gid_t> groups) {
  std::fflush(nullptr);  // or buffered output would be written twice
  const pid_t child = fork();
  if (child < 0) return kRunAsSetupFailed;
  if (child == 0) {
    const int result = drop_to(uid, gid, groups) ? run_guarded(fn) : kRunAsSetupFailed;
    std::fflush(nullptr);
    _exit(result & 0xff);  // _exit: no gtest teardown, no atexit handlers, no destructors
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace finesse::testing
