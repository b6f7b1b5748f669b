// Counts heap allocations for the tests that prove a path never allocates: global operator new
// is replaced by one that counts, then takes from malloc. Include it in exactly one translation
// unit of a test binary (replacement operators are ordinary, non-inline definitions), and not
// in a sanitizer build, whose runtime owns operator new: SLUICE_COUNT_ALLOCATIONS says whether
// counting is compiled in.
#ifndef SLUICE_TESTS_SUPPORT_ALLOC_COUNTER_H_
#define SLUICE_TESTS_SUPPORT_ALLOC_COUNTER_H_

#if !defined(SLUICE_SANITIZER_BUILD)
#define SLUICE_COUNT_ALLOCATIONS 1

#include <atomic>
#include <cstdlib>
#include <new>

namespace sluice::testing {

// Allocations counted so far. Relaxed everywhere: a count read after the work it measures,
// on the thread that did it or after joining it; no ordering needed.
inline std::atomic<long> allocations{0};
// When set, only allocations for which it returns true are counted (e.g. only on the
// server's shard threads). Set before the threads it filters start.
inline bool (*count_if)() = nullptr;

inline long Allocations() { return allocations.load(std::memory_order_relaxed); }

}  // namespace sluice::testing

// Our operator new takes from malloc, so free() is the matching release; GCC sees free() on
// what a (replaced) operator new returned and cannot tell they pair up.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  if (sluice::testing::count_if == nullptr || sluice::testing::count_if()) {
    sluice::testing::allocations.fetch_add(1, std::memory_order_relaxed);
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

#endif  // !SLUICE_SANITIZER_BUILD
#endif  // SLUICE_TESTS_SUPPORT_ALLOC_COUNTER_H_
