// The bypass side of finesse_batch: one operation of a batch described, resolved and posted
// to its mount's server without waiting (batch_post), and its answer read later
// (batch_reap), so that a server serves a batch's calls back to back while the caller posts
// the rest. The argument checks and replies are the single calls' (call.h).
#pragma once

#include "channel.h"
#include "finesse/finesse.h"
#include "result.h"

namespace finesse::client {

struct BatchPost {
  // kPacked: added to the caller's pack (batch_post's pack argument).
  enum class State { kKernel, kAnswered, kPosted, kPacked } state = State::kKernel;
  Result answered = kToKernel;  // kAnswered: the call's result (its output written)
  Posted posted;                // kPosted
  bool cwd_based = false;       // a path relative to a cached cwd went with it
};

// Posts o (valid op kind) when it may go to a server; kAnswered when this process's latest
// listing answers it; kKernel: the kernel must make the call. With a pack (independent
// calls), a call a multi-call request can carry is added to it instead (kPacked), the pack
// taken on o's mount first; a pack of another mount, or full, is posted into *flushed first.
BatchPost batch_post(finesse_op &o, Pack *pack = nullptr, Posted *flushed = nullptr);
// The answer to a posted o, its output written: the call's result, or kToKernel (nothing was
// done: the kernel must make the call).
Result batch_reap(finesse_op &o, BatchPost &p);
// o's answer from its pack's reply r (facts: the mount's), its output written.
Result batch_unpack(finesse_op &o, const wire::BatchReply &r, const KernelFacts &facts);
// Whether o changes anything (a pack that held it and whose server died: not repeated).
bool batch_mutation(const finesse_op &o);

}  // namespace finesse::client
