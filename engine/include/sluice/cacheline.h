// The one cache-line constant of the project (see STYLE.md: not
// std::hardware_destructive_interference_size, which GCC 12 -Werror rejects in headers).
#ifndef SLUICE_CACHELINE_H_
#define SLUICE_CACHELINE_H_

#include <cstddef>

namespace sluice {

// x86-64 and the common AArch64 cores use 64-byte lines. Buckets of the state table and every
// padded counter are sized and aligned to this.
inline constexpr std::size_t kCacheLine = 64;

}  // namespace sluice

#endif  // SLUICE_CACHELINE_H_
