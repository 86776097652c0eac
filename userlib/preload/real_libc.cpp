#include "real_libc.h"

#include <dlfcn.h>

#include <atomic>

namespace finesse::shim::real {

namespace {

enum : int { kUnresolved = 0, kResolving = 1, kResolved = 2 };

std::atomic<int> g_state{kUnresolved};
Table g_table;

}  // namespace

const Table *table() {
  int s = g_state.load(std::memory_order_acquire);
  if (s == kResolved) return &g_table;
  if (s == kUnresolved) {
    int expected = kUnresolved;
    if (g_state.compare_exchange_strong(expected, kResolving, std::memory_order_acq_rel)) {
      // Whatever dlsym calls back into (on this thread or another) sees kResolving and
      // takes the raw system call: no recursion, no waiting on a lock we might hold.
#define FINESSE_REAL_LOOKUP(name) \
  g_table.name = reinterpret_cast<decltype(&::name)>(dlsym(RTLD_NEXT, #name));
      FINESSE_REAL_SYMBOLS(FINESSE_REAL_LOOKUP)
#undef FINESSE_REAL_LOOKUP
      g_state.store(kResolved, std::memory_order_release);
      return &g_table;
    }
  }
  return nullptr;
}

}  // namespace finesse::shim::real
