#include "real_libc.h"

#include <dlfcn.h>

namespace finesse::shim::real {

namespace {

// This thread is inside dlsym for us: what that calls back into takes the raw system call.
thread_local bool t_in_dlsym __attribute__((tls_model("initial-exec"))) = false;

}  // namespace

constinit Table g_table{};

void *lookup(const char *name) {
  if (t_in_dlsym) return nullptr;
  t_in_dlsym = true;
  void *f = dlsym(RTLD_NEXT, name);
  t_in_dlsym = false;
  return f;
}

}  // namespace finesse::shim::real
