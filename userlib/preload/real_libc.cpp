#include "real_libc.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>

namespace finesse::shim::real {

namespace {

// This thread is inside dlsym for us: what that calls back into takes the raw system call.
thread_local bool t_in_dlsym __attribute__((tls_model("initial-exec"))) = false;

}  // namespace

constinit Table g_table{};

void *lookup(const char *name) {
  if (t_in_dlsym) return nullptr;
  // Signals blocked: dlsym holds the dynamic loader's lock, and a handler that siglongjmps
  // out of it would leave that lock held for good, hanging every other thread's next lookup
  // (seen under the 6.12 VM: a timer's siglongjmp during a first use, then a new thread hung).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  t_in_dlsym = true;
  void *f = dlsym(RTLD_NEXT, name);
  t_in_dlsym = false;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return f;
}

}  // namespace finesse::shim::real
