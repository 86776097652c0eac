// Cross-process futex wait/wake on words in a shared mapping.
#pragma once

#include <atomic>
#include <cstdint>

namespace finesse {

// Sleeps while *word == expected, at most timeout_ns (<= 0: no limit). Returns false on
// timeout, true otherwise (woken, value changed, or interrupted).
bool futex_wait(std::atomic<uint32_t> *word, uint32_t expected, int64_t timeout_ns);
void futex_wake(std::atomic<uint32_t> *word, int count);

inline void cpu_relax() { __builtin_ia32_pause(); }

}  // namespace finesse
