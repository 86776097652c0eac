// libfinesse_fuse inside the daemon, as one object: the file system's ops and session as
// captured at fuse_session_new (fs), what the kernel was told (kernel), the server's cache of
// the file system's nodes (cache), the counters, the loader's challenges, the kernel requests
// whose replies tell clients of a change, the closer of
// descriptors clients send, the handles of kernel opens in the no-open mode, and the server (front
// door and serving thread). It is made on first use, in practice by the file system's
// fuse_session_new. The interposed libfuse entry points and the op trampolines, which libfuse calls
// without any context of ours, reach it through extension(); everything below them is handed what
// it uses (ServeCtx, CallCtx, the Server's reference).
#pragma once

#include "challenges.h"
#include "change_replies.h"
#include "counters.h"
#include "dir_listing.h"
#include "fd_discard.h"
#include "fs_state.h"
#include "kernel_handles.h"
#include "kernel_view.h"
#include "node_cache.h"
#include "open_writers.h"
#include "server.h"
#include "xattr_absence.h"

namespace finesse::server {

struct Extension {
  FsState fs;
  KernelView kernel;
  NodeCache cache;
  Counters counters;
  Challenges challenges;
  OpenWriters writers;   // which files a release may still change (kernel path)
  FdDiscard discard;     // closes what clients send us, off the serving threads
  KernelHandles handles{fs, writers, cache};  // kernel opens without OPEN (no_open mode)
  ListingBudget listing_budget;               // what all clients' kept directory listings may take
  ChangeReplies change_replies;               // kernel requests to tell clients of at their reply
  AbsentXattrMemo absent_memo;                // the file system's absent-xattr answers for listings
  Server server{*this};  // last: stopped and destroyed before what it uses
};

// The one root, for the interposed C entry points and the trampolines only.
Extension &extension();

}  // namespace finesse::server
