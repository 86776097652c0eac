#include "tuning.h"

#include <cstdlib>

namespace finesse {

int64_t env_int(const char *name, int64_t fallback) {
  const char *v = getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char *end = nullptr;
  long long x = strtoll(v, &end, 10);
  if (end == v || *end != '\0' || x < 0) return fallback;
  return x;
}

const Tuning &tuning() {
  static const Tuning t = [] {
    Tuning r;
    r.client_spin_ns = env_int("FINESSE_CLIENT_SPIN_US", 50) * 1000;
    r.client_wake_spin_ns = env_int("FINESSE_CLIENT_WAKE_SPIN_US", 250) * 1000;
    r.server_spin_ns = env_int("FINESSE_SERVER_SPIN_US", 200) * 1000;
    r.server_wait_ms = env_int("FINESSE_SERVER_TIMEOUT_MS", 1000);
    r.registry_ttl_ms = env_int("FINESSE_REGISTRY_TTL_MS", 1000);
    r.disabled = env_int("FINESSE_DISABLE", 0) != 0;
    return r;
  }();
  return t;
}

}  // namespace finesse
