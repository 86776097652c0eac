#include "fs_state.h"

namespace finesse::server {

OpGuard::OpGuard(FsState &fs) : fs_(fs), locked_(fs.serialize.load(std::memory_order_relaxed)) {
  if (locked_) fs_.op_lock.lock();
}

OpGuard::~OpGuard() {
  if (locked_) fs_.op_lock.unlock();
}

}  // namespace finesse::server
