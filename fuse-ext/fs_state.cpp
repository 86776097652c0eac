#include "fs_state.h"

namespace finesse::server {

FsState &fs_state() {
  static FsState s;
  return s;
}

OpGuard::OpGuard() : locked_(fs_state().serialize.load(std::memory_order_relaxed)) {
  if (locked_) fs_state().op_lock.lock();
}

OpGuard::~OpGuard() {
  if (locked_) fs_state().op_lock.unlock();
}

}  // namespace finesse::server
