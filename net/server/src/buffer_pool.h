// Fixed-size buffers handed to connections only while they hold unfinished input or unsent
// output: an idle connection holds none. Grows to the shard's peak concurrency, never past
// `max_buffers`, and reuses what it made (no allocation once the peak was reached).
#ifndef SLUICE_NET_SRC_BUFFER_POOL_H_
#define SLUICE_NET_SRC_BUFFER_POOL_H_

#include <cstddef>
#include <memory>
#include <vector>

namespace sluice::net {

class BufferPool {
 public:
  BufferPool(std::size_t buffer_bytes, std::size_t max_buffers)
      : bytes_(buffer_bytes), max_(max_buffers) {
    free_.reserve(max_);
    owned_.reserve(max_);
  }
  // nullptr when the budget is spent.
  char* Acquire() {
    if (!free_.empty()) {
      char* b = free_.back();
      free_.pop_back();
      return b;
    }
    if (owned_.size() >= max_) return nullptr;
    owned_.push_back(std::make_unique_for_overwrite<char[]>(bytes_));
    return owned_.back().get();
  }
  void Release(char* buffer) noexcept { free_.push_back(buffer); }  // never past reserve()
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

 private:
  std::size_t bytes_;
  std::size_t max_;
  std::vector<char*> free_;
  std::vector<std::unique_ptr<char[]>> owned_;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_SRC_BUFFER_POOL_H_
