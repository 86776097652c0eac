// The contents of one regular memfs file, kept sparse: storage is allocated in fixed-size blocks
// only where data was written, so `truncate -s 1T` or a write at a huge offset costs nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>

namespace finesse::examples::memfs {

class FileData {
 public:
  static constexpr uint64_t kBlockSize = 4096;

  uint64_t size() const { return size_; }
  uint64_t allocated_blocks() const { return blocks_.size(); }

  // Copies up to `count` bytes at `offset` to `out` (holes read as zeros); returns the number
  // of bytes copied, 0 at or beyond the end.
  size_t read(uint64_t offset, size_t count, char *out) const;

  // How many blocks write(offset, ..., count) would allocate; for the capacity check.
  uint64_t blocks_needed_for_write(uint64_t offset, size_t count) const;

  // Stores `count` bytes at `offset`, growing the file as needed. May throw std::bad_alloc.
  void write(uint64_t offset, const char *data, size_t count);

  // Sets the size; bytes beyond the old end read as zeros.
  void truncate(uint64_t new_size);

 private:
  using Block = std::unique_ptr<char[]>;
  uint64_t size_ = 0;
  std::map<uint64_t, Block> blocks_;  // block index -> kBlockSize bytes
};

}  // namespace finesse::examples::memfs
