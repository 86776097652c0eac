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
  enum class State { kKernel, kAnswered, kPosted } state = State::kKernel;
  Result answered = kToKernel;  // kAnswered: the call's result (its output written)
  Posted posted;                // kPosted
  bool cwd_based = false;       // a path relative to a cached cwd went with it
};

// Posts o (valid op kind) when it may go to a server; kAnswered when this process's latest
// listing answers it; kKernel: the kernel must make the call.
BatchPost batch_post(finesse_op &o);
// The answer to a posted o, its output written: the call's result, or kToKernel (nothing was
// done: the kernel must make the call).
Result batch_reap(finesse_op &o, BatchPost &p);

}  // namespace finesse::client
