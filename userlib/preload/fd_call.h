// How the shim sends a call on an fd: by the kernel's node of the fd's file where the server
// can take it (bypass_ops.h, b_*_fd), else by the path the fd table knows (checked by inode).
// An fd found on no attached mount is remembered as such until its number is reused, so the
// calls on other files pay two loads.
#pragma once

#include "fd_file.h"
#include "fd_table.h"
#include "result.h"

namespace finesse::shim {

// by_node(bool *elsewhere) and by_path(const client::KnownFile &) return Results.
template <typename ByNode, typename ByPath>
Result on_fd(int fd, client::FdUse use, ByNode by_node, ByPath by_path) {
  if (fd_table::known_elsewhere(fd)) return kToKernel;
  bool elsewhere = false;
  if (Result rc = by_node(&elsewhere); !rc.to_kernel()) return rc;
  if (elsewhere) {
    fd_table::note_elsewhere(fd);
    return kToKernel;
  }
  return client::on_fd_file(fd, use, fd_table::file, by_path);
}

}  // namespace finesse::shim
