#include "real_libc.h"

#include <dlfcn.h>

#include <atomic>

namespace finesse::shim::real {

namespace {

enum : int { kUnresolved = 0, kResolving = 1, kResolved = 2 };

std::atomic<int> g_state{kUnresolved};
Table g_table;
// This thread is inside dlsym for us: what that calls back into takes the raw system call.
thread_local bool t_in_dlsym __attribute__((tls_model("initial-exec"))) = false;

}  // namespace

const Table *table() {
  int s = g_state.load(std::memory_order_acquire);
  if (s == kResolved) return &g_table;
  if (s == kUnresolved) {
    int expected = kUnresolved;
    if (g_state.compare_exchange_strong(expected, kResolving, std::memory_order_acq_rel)) {
      // Whatever dlsym calls back into on this thread takes the raw system call; other
      // threads meanwhile look up what they call (lookup()): no recursion, no waiting on a
      // lock we might hold, and no function without a system call refused.
      t_in_dlsym = true;
#define FINESSE_REAL_LOOKUP(name) \
  g_table.name = reinterpret_cast<decltype(&::name)>(dlsym(RTLD_NEXT, #name));
      FINESSE_REAL_SYMBOLS(FINESSE_REAL_LOOKUP)
#undef FINESSE_REAL_LOOKUP
      t_in_dlsym = false;
      g_state.store(kResolved, std::memory_order_release);
      return &g_table;
    }
  }
  return nullptr;
}

void *lookup(const char *name) {
  if (t_in_dlsym) return nullptr;
  t_in_dlsym = true;
  void *f = dlsym(RTLD_NEXT, name);
  t_in_dlsym = false;
  return f;
}

}  // namespace finesse::shim::real
