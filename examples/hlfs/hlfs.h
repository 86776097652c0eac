// finesse-hlfs: a small in-memory file system on the libfuse high-level (path based) API.
// One mutex guards the whole tree; the handlers take it for their whole run.
#pragma once

#include <fuse.h>

namespace finesse::examples::hlfs {

struct Timeouts {
  double entry = 1.0;
  double attr = 1.0;
  double negative = 0.0;
};

// The operations table. fuse_new's private_data must point to a Timeouts that outlives the
// mount; the file system's state is created by init and destroyed by destroy.
const fuse_operations &hlfs_operations();

}  // namespace finesse::examples::hlfs
