// The fuse_lowlevel_ops table of finesse-memfs. The session's userdata must be a MemFs*.
#pragma once

#include <fuse_lowlevel.h>

namespace finesse::examples::memfs {

const fuse_lowlevel_ops &memfs_operations();

}  // namespace finesse::examples::memfs
