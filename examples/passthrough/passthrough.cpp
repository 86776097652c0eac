#include "passthrough/passthrough.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace finesse::examples::passthrough {

int Passthrough::lookup(const Inode &parent, const char *name, fuse_entry_param *entry) {
  int fd = openat(parent.path_fd(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return errno;
  *entry = fuse_entry_param{};
  if (fstatat(fd, "", &entry->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
    int error = errno;
    close(fd);
    return error;
  }
  entry->ino = inodes_.remember(fd, entry->attr);
  entry->attr_timeout = timeouts_.attr;
  entry->entry_timeout = timeouts_.entry;
  return 0;
}

std::string proc_path(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

int open_source_directory(const std::string &source) {
  return open(source.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
}

}  // namespace finesse::examples::passthrough
