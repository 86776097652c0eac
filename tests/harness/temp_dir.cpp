// Per-test temp directories under /tmp/finesse-test-XXXXXX.
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <system_error>

#include "harness.h"
#include "internal.h"

namespace finesse::testing {
namespace detail {

void remove_tree(const std::string &dir) {
  // FTW_MOUNT: never descend into a mount that could not be detached (it may be a live FUSE
  // mount whose contents are not ours to delete, or whose daemon would block us).
  nftw(
      dir.c_str(),
      [](const char *path, const struct stat *, int, struct FTW *) { return remove(path), 0; }, 16,
      FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

}  // namespace detail

TempDir::TempDir() {
  std::string templ = std::string(detail::kTempPrefix) + "XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + templ);
  }
  path_ = templ;
  // Other users (run_as) must be able to reach mount points below it.
  chmod(path_.c_str(), 0755);
  std::ofstream(sub(detail::kOwnerFile)) << getpid() << "\n";
}

TempDir::~TempDir() {
  detail::detach_mounts_below(path_);
  detail::remove_tree(path_);
}

}  // namespace finesse::testing
