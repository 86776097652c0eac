#include "memfs/file_data.h"

#include <algorithm>
#include <cstring>

namespace finesse::examples::memfs {

size_t FileData::read(uint64_t offset, size_t count, char *out) const {
  if (offset >= size_) return 0;
  size_t total = static_cast<size_t>(std::min<uint64_t>(count, size_ - offset));
  size_t done = 0;
  while (done < total) {
    uint64_t position = offset + done;
    uint64_t index = position / kBlockSize;
    size_t in_block = position % kBlockSize;
    size_t chunk = std::min<size_t>(kBlockSize - in_block, total - done);
    auto block = blocks_.find(index);
    if (block == blocks_.end()) {
      std::memset(out + done, 0, chunk);
    } else {
      std::memcpy(out + done, block->second.get() + in_block, chunk);
    }
    done += chunk;
  }
  return total;
}

uint64_t FileData::blocks_needed_for_write(uint64_t offset, size_t count) const {
  if (count == 0) return 0;
  uint64_t first = offset / kBlockSize;
  uint64_t last = (offset + count - 1) / kBlockSize;
  uint64_t needed = last - first + 1;
  for (auto it = blocks_.lower_bound(first); it != blocks_.end() && it->first <= last; ++it) {
    --needed;
  }
  return needed;
}

void FileData::write(uint64_t offset, const char *data, size_t count) {
  size_t done = 0;
  while (done < count) {
    uint64_t position = offset + done;
    uint64_t index = position / kBlockSize;
    size_t in_block = position % kBlockSize;
    size_t chunk = std::min<size_t>(kBlockSize - in_block, count - done);
    Block &block = blocks_[index];
    if (!block) block = std::make_unique<char[]>(kBlockSize);  // value-initialized: zeros
    std::memcpy(block.get() + in_block, data + done, chunk);
    done += chunk;
  }
  size_ = std::max(size_, offset + count);
}

void FileData::truncate(uint64_t new_size) {
  if (new_size < size_) {
    uint64_t first_unused = (new_size + kBlockSize - 1) / kBlockSize;
    blocks_.erase(blocks_.lower_bound(first_unused), blocks_.end());
    // Zero the tail of the last partial block so that growing the file again exposes zeros.
    size_t in_block = new_size % kBlockSize;
    auto last = blocks_.find(new_size / kBlockSize);
    if (in_block != 0 && last != blocks_.end()) {
      std::memset(last->second.get() + in_block, 0, kBlockSize - in_block);
    }
  }
  size_ = new_size;
}

}  // namespace finesse::examples::memfs
