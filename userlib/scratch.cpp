#include "scratch.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include "channel.h"

namespace finesse::client {

namespace {

thread_local Scratch *t_scratch __attribute__((tls_model("initial-exec"))) = nullptr;
// Non-null while a CallGuard of this thread holds the scratch: where it was taken.
thread_local const void *t_held __attribute__((tls_model("initial-exec"))) = nullptr;

pthread_key_t g_key;
bool g_key_ok = false;

// At thread exit: a call this thread abandoned (siglongjmp) gives back what it held, and the
// scratch is unmapped.
void thread_exit(void *p) {
  recover_abandoned_call();
  if (p != nullptr) munmap(p, sizeof(Scratch));
  t_scratch = nullptr;
}

__attribute__((constructor)) void scratch_init() {
  g_key_ok = pthread_key_create(&g_key, thread_exit) == 0;
}

}  // namespace

void recover_abandoned_call() {
  channel_recover_abandoned();  // nothing to do if no call of this thread holds anything
  t_held = nullptr;
}

Scratch *thread_scratch() {
  Scratch *s = t_scratch;
  if (s != nullptr) return s;
  if (!channel_in_owner_process()) return nullptr;
  void *p = mmap(nullptr, sizeof(Scratch), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  // Without the key the mapping outlives the thread (a leak, not a fault).
  if (g_key_ok) pthread_setspecific(g_key, p);
  t_scratch = static_cast<Scratch *>(p);
  return t_scratch;
}

bool frame_abandoned(const void *held, const void *here) {
  if (reinterpret_cast<uintptr_t>(here) < reinterpret_cast<uintptr_t>(held)) return false;
  stack_t ss;
  if (syscall(SYS_sigaltstack, nullptr, &ss) != 0 || (ss.ss_flags & SS_ONSTACK)) return false;
  return true;
}

CallGuard::CallGuard() {
  const void *here = FINESSE_FRAME();
  if (t_held != nullptr) {
    if (!frame_abandoned(t_held, here)) return;  // nested in a live call of this thread
    recover_abandoned_call();
  }
  s_ = thread_scratch();
  if (s_ != nullptr) t_held = here;
}

CallGuard::~CallGuard() {
  if (s_ != nullptr) t_held = nullptr;
}

}  // namespace finesse::client
