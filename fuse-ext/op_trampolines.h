// The ops table libfuse gets: every op of the file system wrapped so that kernel requests
// (a) keep the server's cache coherent with what the kernel path changes, (b) are serialised
// with bypass calls when the file system runs single-threaded, (c) reveal init (the bypass
// may serve only after it) and destroy (the bypass stops before it).
#pragma once

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

namespace finesse::server {

// Fills extension().fs.wrapped from extension().fs.ops.
void build_trampolines();

}  // namespace finesse::server
