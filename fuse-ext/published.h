// A value one thread replaces whole and the serving threads read (the client list, the
// mount's view): each reader keeps its own Copy and takes the value again only when the
// generation moved, one atomic load a look; a replaced value lives on until its last reader
// lets go of it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace finesse::server {

template <typename T>
class Published {
 public:
  // A reader's copy (one per thread).
  struct Copy {
    std::shared_ptr<const T> value;
    uint64_t gen = 0;
    void reset() { value.reset(); }
  };

  void publish(std::shared_ptr<const T> v) {
    std::lock_guard<std::mutex> g(mu_);
    value_ = std::move(v);
    gen_.fetch_add(1, std::memory_order_release);
  }
  // The current value as *c holds it, refreshed if it was replaced; null if none.
  const T *take(Copy *c) {
    if (gen_.load(std::memory_order_acquire) != c->gen || !c->value) {
      std::lock_guard<std::mutex> g(mu_);
      c->value = value_;
      c->gen = gen_.load(std::memory_order_relaxed);
    }
    return c->value.get();
  }
  std::shared_ptr<const T> current() {
    std::lock_guard<std::mutex> g(mu_);
    return value_;
  }

 private:
  std::mutex mu_;
  std::shared_ptr<const T> value_;
  std::atomic<uint64_t> gen_{1};
};

}  // namespace finesse::server
