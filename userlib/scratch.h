// Per-thread working memory for the large buffers of a bypassed call (resolved paths, the
// reply's data). Not on the stack: a call may run on an 8 KiB signal stack or a small thread
// stack. Not in TLS: every thread of the application would carry it. Mapped on a thread's
// first call (~45 KiB, only touched pages cost memory), unmapped when the thread exits.
#pragma once

#include "resolve.h"
#include "wire.h"

namespace finesse::client {

struct Scratch {
  Target target[2];                // the call's paths (resolve_target)
  char data[wire::kSlotDataSize];  // the reply's data (readlink target, xattr value)
  char fdpath[wire::kPathMax];     // the path of an fd an fd-based call is for (on_fd_file)
  char path[2 * wire::kPathMax];   // the shim's own path work (an opened path, the new cwd)
  char cwd[wire::kPathMax];        // the shim's cwd learning (may run inside a call)
};

// This thread's scratch, mapped on first use; nullptr if it cannot be (or in a vfork child,
// which must not map memory into its parent). Scratch::path and cwd are the shim's, used
// under its own per-thread guard (shim::Scope); target and data belong to a CallGuard;
// fdpath is filled before the CallGuard is taken (in libfinesse a signal handler's call in
// between may overwrite it: the server's inode check then refuses the outer call).
Scratch *thread_scratch();

// Held by one bypassed call of this thread at a time, with its scratch. Another call of the
// same thread finds it held and takes the kernel path: a signal handler that interrupted a
// call. Or the holder is gone, left by a siglongjmp out of a signal handler: then what it
// held (a connection reference, a slot) is recovered, never waited on.
class CallGuard {
 public:
  CallGuard();
  ~CallGuard();
  CallGuard(const CallGuard &) = delete;
  CallGuard &operator=(const CallGuard &) = delete;
  Scratch *scratch() const { return s_; }  // nullptr: take the kernel path

 private:
  Scratch *s_ = nullptr;
};

// The shim found its own per-thread mark abandoned (shim::Scope): so is this thread's call,
// if it held a CallGuard. Gives back what that call held.
void recover_abandoned_call();

// A per-thread "busy" mark is set, taken by this thread's frame at `held`; we run at `here`.
// Whether that frame is gone (the mark was abandoned by a siglongjmp) rather than live below
// us (we are a signal handler or a callback nested in it). Stacks grow down: a holder at or
// below our own frame is gone, unless we run on the signal stack, where addresses tell
// nothing (then: live). One sigaltstack call, only when a mark is found set. A holder on the
// signal stack left for a frame below it stays "live": that thread takes the kernel path.
bool frame_abandoned(const void *held, const void *here);

// The calling function's frame, as frame_abandoned wants it: the canonical frame address (the
// caller's stack pointer at the call), which ASan's fake stacks (use-after-return detection)
// do not move, unlike the frame pointer.
#if defined(__clang__)
#define FINESSE_FRAME() __builtin_frame_address(0)
#else
#define FINESSE_FRAME() __builtin_dwarf_cfa()
#endif

}  // namespace finesse::client
