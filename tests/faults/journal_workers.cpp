#include "journal_workers.h"

#include <sys/stat.h>

#include <stdexcept>

namespace finesse::testing::journal {

using Clock = std::chrono::steady_clock;

Workers::Workers(const std::string &root, int n, const std::atomic<bool> *fault, uint32_t seed,
                 int first) {
  for (int i = 0; i < n; i++) {
    std::string name = "w" + std::to_string(first + i);
    std::string dir = root + "/" + name;
    if (::mkdir(dir.c_str(), 0755) != 0) throw std::runtime_error("mkdir " + dir);
    auto s = std::make_unique<Slot>();
    s->rec = std::make_unique<Recorder>(dir, seed * 1000 + static_cast<uint32_t>(first + i), fault);
    slots_.push_back(std::move(s));
    names_.push_back(name);
  }
}

Workers::~Workers() {
  stop();
  join();
}

void Workers::start() {
  for (auto &s : slots_) {
    Slot *p = s.get();
    p->thread = std::thread([this, p] {
      while (!stop_) {
        p->rec->random_op();
        p->ops++;
      }
      p->done = true;
    });
  }
}

bool Workers::stop_and_wait(std::chrono::milliseconds bound) {
  stop();
  auto deadline = Clock::now() + bound;
  for (auto &s : slots_)
    while (s->thread.joinable() && !s->done) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  join();
  return true;
}

void Workers::join() {
  for (auto &s : slots_)
    if (s->thread.joinable()) s->thread.join();
}

bool Workers::each_runs(long n, std::chrono::milliseconds bound) {
  std::vector<long> from;
  for (auto &s : slots_) from.push_back(s->ops.load());
  auto deadline = Clock::now() + bound;
  for (size_t i = 0; i < slots_.size(); i++)
    while (slots_[i]->ops.load() < from[i] + n) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  return true;
}

long Workers::ops() const {
  long n = 0;
  for (auto &s : slots_) n += s->ops.load();
  return n;
}

Verdict Workers::check(const std::string &real_root, const Policy &policy) const {
  Verdict v;
  for (size_t i = 0; i < slots_.size(); i++)
    journal::check(slots_[i]->rec->entries(), real_root + "/" + names_[i], policy, &v);
  return v;
}

}  // namespace finesse::testing::journal
