#include "read_route.h"

#include <algorithm>

#include "clock.h"

namespace finesse::client {

namespace {

// How often a call takes the route that is not the cheaper one, so that both costs stay
// current (names going stale make the kernel dearer, a busy server the bypass): every
// 8 x (dearer / cheaper) calls, between 8 and 256, so trying costs at most an eighth of the
// cheaper route on average; every 8 while a route has fewer than 4 samples (a process's first
// calls are slow on every route).
constexpr uint32_t kTryMin = 8, kTryMax = 256, kFewSamples = 4;
// A kernel answer this slow asked the daemon: waking the server to try the bypass costs no
// more than the calls it may save.
constexpr int64_t kKernelAskedDaemonNs = 10 * 1000;
// A sample counts for at most this much: one preempted call must not decide the next hundred.
constexpr int64_t kMaxSampleNs = 1000 * 1000;

struct PendingKernelSample {
  ReadRoutes *routes;
  wire::Op op;
  int64_t start_ns;
};
thread_local PendingKernelSample t_pending
    __attribute__((tls_model("initial-exec"))) = {nullptr, wire::Op::kStat, 0};
// Calls since this thread last tried the dearer route, and the route it is trying (kept
// until a call on it is timed: a sleeping server sends a try to the kernel).
thread_local uint32_t t_since_try __attribute__((tls_model("initial-exec"))) = 0;
thread_local int t_trying __attribute__((tls_model("initial-exec"))) = -1;

uint32_t index_of(wire::Op op) {
  uint32_t i = static_cast<uint32_t>(op);
  return i < wire::kOpCount ? i : 0;
}

}  // namespace

ReadRoute ReadRoutes::choose(wire::Op op, bool server_awake) const {
  const Costs &c = costs_[index_of(op)];
  int32_t k = c.kernel_ns.load(std::memory_order_relaxed);
  int32_t b = c.bypass_ns.load(std::memory_order_relaxed);
  if (k == 0) return ReadRoute::kKernel;  // learnt first: it needs no server
  if (b == 0) return ReadRoute::kBypass;
  const bool kernel_best = k <= b;
  const ReadRoute best = kernel_best ? ReadRoute::kKernel : ReadRoute::kBypass;
  const int64_t cheap = kernel_best ? k : b, dear = kernel_best ? b : k;
  const uint8_t dear_samples =
      (kernel_best ? c.bypass_n : c.kernel_n).load(std::memory_order_relaxed);
  const int64_t every = dear_samples < kFewSamples
                            ? kTryMin
                            : std::clamp<int64_t>(kTryMin * dear / cheap, kTryMin, kTryMax);
  if (++t_since_try < every) return best;
  // Trying the bypass wakes a sleeping server (the call itself takes the kernel, the next
  // ones find it up), whose spin then takes a CPU from the program and the daemon's
  // kernel-path threads: worth it only while the kernel keeps asking the daemon.
  if (kernel_best && !server_awake && k < kKernelAskedDaemonNs) return best;
  const ReadRoute other = kernel_best ? ReadRoute::kBypass : ReadRoute::kKernel;
  t_trying = static_cast<int>(other);
  return other;
}

void ReadRoutes::sample(wire::Op op, ReadRoute r, int64_t ns) {
  Costs &c = costs_[index_of(op)];
  const bool kernel = r == ReadRoute::kKernel;
  std::atomic<int32_t> &avg = kernel ? c.kernel_ns : c.bypass_ns;
  std::atomic<uint8_t> &n = kernel ? c.kernel_n : c.bypass_n;
  const int32_t other = (kernel ? c.bypass_ns : c.kernel_ns).load(std::memory_order_relaxed);
  const int32_t s = static_cast<int32_t>(std::clamp<int64_t>(ns, 1, kMaxSampleNs));
  const int32_t old = avg.load(std::memory_order_relaxed);
  // The cheaper route is sampled at every call, the dearer one only when tried: a sample of
  // the dearer counts for more.
  const int32_t weight = old != 0 && old > other ? 2 : 8;
  avg.store(old == 0 ? s : old + (s - old) / weight, std::memory_order_relaxed);
  if (t_trying == static_cast<int>(r)) t_since_try = 0, t_trying = -1;
  const uint8_t seen = n.load(std::memory_order_relaxed);
  if (seen < kFewSamples) n.store(seen + 1, std::memory_order_relaxed);
}

void ReadRoutes::reset() {
  for (Costs &c : costs_) {
    c.kernel_ns.store(0, std::memory_order_relaxed);
    c.bypass_ns.store(0, std::memory_order_relaxed);
    c.kernel_n.store(0, std::memory_order_relaxed);
    c.bypass_n.store(0, std::memory_order_relaxed);
  }
}

void begin_kernel_sample(ReadRoutes *routes, wire::Op op) {
  t_pending = {routes, op, now_ns()};
}

void kernel_call_done() {
  if (t_pending.routes == nullptr) return;
  t_pending.routes->sample(t_pending.op, ReadRoute::kKernel, now_ns() - t_pending.start_ns);
  t_pending.routes = nullptr;
}

}  // namespace finesse::client
