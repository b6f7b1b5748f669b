// Bytes placed so that their last byte is the last readable one: the page after it is
// PROT_NONE, so a parser that reads one byte too far faults (picohttpparser's test.c idea).
#ifndef SLUICE_TESTS_SUPPORT_GUARDED_BUFFER_H_
#define SLUICE_TESTS_SUPPORT_GUARDED_BUFFER_H_

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace sluice::testing {

class GuardedBuffer {
 public:
  explicit GuardedBuffer(std::size_t capacity) {
    page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    data_pages_ = (capacity + page_ - 1) / page_ + 1;
    map_bytes_ = (data_pages_ + 1) * page_;
    void* map =
        mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) std::abort();
    base_ = static_cast<char*>(map);
    if (mprotect(base_ + data_pages_ * page_, page_, PROT_NONE) != 0) std::abort();
  }
  ~GuardedBuffer() { munmap(base_, map_bytes_); }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  // A copy of `bytes` ending right before the guard page (valid until the next Place).
  std::string_view Place(std::string_view bytes) {
    if (bytes.size() > data_pages_ * page_) std::abort();
    char* start = base_ + data_pages_ * page_ - bytes.size();
    if (!bytes.empty()) std::memcpy(start, bytes.data(), bytes.size());
    return {start, bytes.size()};
  }

 private:
  std::size_t page_ = 0;
  std::size_t data_pages_ = 0;
  std::size_t map_bytes_ = 0;
  char* base_ = nullptr;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_GUARDED_BUFFER_H_
