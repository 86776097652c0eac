#include "pinned_counters.h"

#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "finesse_track.h"

namespace finesse::server {

namespace {

constexpr int64_t kRecheckNs = 1'000'000'000;  // how often the pins are looked at again
// PROC_PID_INIT_INO: the initial pid namespace, whose tgids the BPF programs see.
constexpr const char *kInitPidNs = "pid:[4026531836]";

int64_t coarse_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

bool in_init_pid_ns() {
  char link[64] = {};
  ssize_t n = readlink("/proc/self/ns/pid", link, sizeof(link) - 1);
  return n > 0 && strcmp(link, kInitPidNs) == 0;
}

bool our_layout() {
  PinnedMap info(FINESSE_TRACK_INFO_PIN);
  uint32_t key = 0;
  uint64_t version = 0;
  return info.valid() && info.lookup(&key, &version) == 0 && version == FINESSE_TRACK_ABI_VERSION;
}

}  // namespace

bool PinnedCounters::read(uint32_t index, uint64_t *value, uint32_t *source, bool mapped_only) {
  int64_t now = coarse_now_ns();
  if (now >= next_check_ns_) revalidate(now);
  if (index >= entries_) return false;
  if (slots_ != nullptr) {
    uint64_t dead = __atomic_load_n(&slots_[dead_index_], __ATOMIC_ACQUIRE);
    if (dead & FINESSE_CRED_GEN_DEAD) {  // the loader is unloading the programs
      close_map();
      return false;
    }
    *value = __atomic_load_n(&slots_[index], __ATOMIC_ACQUIRE);
  } else if (map_.valid() && !mapped_only) {
    if (map_.lookup(&index, value) != 0) return false;
  } else {
    return false;
  }
  *source = source_;
  return true;
}

bool PinnedCounters::per_process() {
  if (!checked_ns_) {
    per_process_ = in_init_pid_ns();
    checked_ns_ = true;
  }
  return per_process_;
}

void PinnedCounters::revalidate(int64_t now) {
  next_check_ns_ = now + kRecheckNs;
  struct stat st;
  uint64_t ino = stat(FINESSE_TRACK_INFO_PIN, &st) == 0 ? st.st_ino : 0;
  if ((slots_ != nullptr || map_.valid()) && ino == info_ino_) return;
  close_map();
  if (ino == 0 || !our_layout()) return;
  PinnedMap rw(pin_, PinnedMap::Access::kReadWrite);
  if (rw.valid()) {
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_t len = (size_t{entries_} * sizeof(uint64_t) + page - 1) / page * page;
    void *p = mmap(nullptr, len, PROT_READ, MAP_SHARED, rw.fd(), 0);
    if (p != MAP_FAILED) {
      slots_ = static_cast<const uint64_t *>(p);
      map_len_ = len;
    }
  }
  if (slots_ == nullptr) {
    map_ = PinnedMap(pin_);
    if (!map_.valid()) return;
  }
  info_ino_ = ino;
  if (++source_ == 0) source_ = 1;
}

void PinnedCounters::close_map() {
  if (slots_ != nullptr) munmap(const_cast<uint64_t *>(slots_), map_len_);
  slots_ = nullptr;
  map_ = PinnedMap();
  info_ino_ = 0;
}

}  // namespace finesse::server
