// A 16-byte slot read as two relaxed 64-bit halves and written by one 128-bit CAS.
// Private to the engine.
#ifndef SLUICE_INTERNAL_ATOMIC_SLOT_H_
#define SLUICE_INTERNAL_ATOMIC_SLOT_H_

#include <bit>
#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#if defined(__SANITIZE_THREAD__)
#define SLUICE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SLUICE_TSAN 1
#endif
#endif

namespace sluice::internal {

__extension__ typedef unsigned __int128 U128;
// Lets us read one half of a U128 without breaking strict aliasing.
typedef std::uint64_t __attribute__((may_alias)) AliasU64;

static_assert(std::endian::native == std::endian::little, "slot halves assume little endian");

struct alignas(16) Slot {
  U128 word;
};
static_assert(sizeof(Slot) == 16 && alignof(Slot) == 16);

[[nodiscard]] inline constexpr U128 Pack(std::uint64_t tag, std::int64_t tat) noexcept {
  return (static_cast<U128>(static_cast<std::uint64_t>(tat)) << 64) | tag;
}
[[nodiscard]] inline constexpr std::uint64_t TagOf(U128 w) noexcept {
  return static_cast<std::uint64_t>(w);
}
[[nodiscard]] inline constexpr std::int64_t TatOf(U128 w) noexcept {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(w >> 64));
}

// Two relaxed 64-bit loads: the halves may come from different versions of the slot (torn).
// Relaxed suffices: the value is only a hint for choosing a slot and an expected value; every
// decision is validated by Cas(), and no other memory is published through a slot.
[[nodiscard]] inline U128 LoadRelaxed(const Slot& s) noexcept {
  const auto* half = reinterpret_cast<const AliasU64*>(&s.word);
  const std::uint64_t tag = __atomic_load_n(&half[0], __ATOMIC_RELAXED);
  const std::uint64_t tat = __atomic_load_n(&half[1], __ATOMIC_RELAXED);
  return Pack(tag, static_cast<std::int64_t>(tat));
}

// True when this CPU makes aligned 16-byte loads single-copy atomic: Intel (SDM vol. 3, 9.1.1)
// and AMD (APM vol. 2, 7.3.2) guarantee it for MOVDQA on every processor that supports AVX.
// Call once (at table creation) and keep the answer.
[[nodiscard]] inline bool HasAtomic16ByteLoads() noexcept {
#if defined(SLUICE_TSAN)
  return true;  // LoadAtomic() below is an instrumented __atomic load under TSan
#elif defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx");
#else
  return false;
#endif
}

// One atomic 16-byte load: a real snapshot of the slot. Only valid when
// HasAtomic16ByteLoads() said so. Relaxed ordering suffices for the same reason as above.
[[nodiscard]] inline U128 LoadAtomic(const Slot& s) noexcept {
#if defined(SLUICE_TSAN)
  return __atomic_load_n(&s.word, __ATOMIC_RELAXED);  // TSan sees an atomic 128-bit load
#elif defined(__x86_64__)
  __m128i v;
  std::uint64_t lo;
  std::uint64_t hi;
  // Inline asm so the compiler can neither split the load into two 8-byte halves nor move the
  // halves to general registers through the stack (a store and a reload on the hot path).
  asm volatile(
      "movdqa %3, %0\n\t"
      "movq %0, %1\n\t"
      "punpckhqdq %0, %0\n\t"
      "movq %0, %2"
      : "=&x"(v), "=r"(lo), "=r"(hi)
      : "m"(*reinterpret_cast<const __m128i*>(&s.word)));
  return (static_cast<U128>(hi) << 64) | lo;
#else
  return LoadRelaxed(s);
#endif
}

#if defined(__x86_64__)
// LoadAtomic() into a vector register, for SIMD work on the slot (internal/tag_match.h).
[[nodiscard]] inline __m128i LoadAtomicVector(const Slot& s) noexcept {
#if defined(SLUICE_TSAN)
  const U128 w = __atomic_load_n(&s.word, __ATOMIC_RELAXED);  // instrumented, as above
  return _mm_set_epi64x(static_cast<long long>(static_cast<std::uint64_t>(w >> 64)),
                        static_cast<long long>(static_cast<std::uint64_t>(w)));
#else
  __m128i v;
  asm volatile("movdqa %1, %0" : "=x"(v) : "m"(*reinterpret_cast<const __m128i*>(&s.word)));
  return v;
#endif
}
#endif

// 128-bit compare-and-swap (LOCK CMPXCHG16B; a full barrier, seq_cst). On failure `expected`
// receives the slot's current value, read atomically.
//
// On x86-64 the instruction is written out: CMPXCHG16B reports success in ZF and leaves the
// current value in RDX:RAX, so the answer is a flag and the halves stay in registers. The
// builtin compared the returned 128-bit value with `expected` afterwards (three more
// instructions on every admission) and, inlined into a large function, moved both through
// the stack around the locked instruction. TSan builds keep the builtin, which TSan sees.
[[nodiscard]] inline bool Cas(Slot& s, U128& expected, U128 desired) noexcept {
#if defined(__x86_64__) && !defined(SLUICE_TSAN)
  auto lo = static_cast<std::uint64_t>(expected);
  auto hi = static_cast<std::uint64_t>(expected >> 64);
  bool swapped;
  asm volatile("lock cmpxchg16b %0"
               : "+m"(s.word), "+a"(lo), "+d"(hi), "=@ccz"(swapped)
               : "b"(static_cast<std::uint64_t>(desired)),
                 "c"(static_cast<std::uint64_t>(desired >> 64))
               : "memory");
  if (!swapped) expected = (static_cast<U128>(hi) << 64) | lo;
  return swapped;
#else
  const U128 previous = __sync_val_compare_and_swap(&s.word, expected, desired);
  if (previous == expected) return true;
  expected = previous;
  return false;
#endif
}

}  // namespace sluice::internal

#endif  // SLUICE_INTERNAL_ATOMIC_SLOT_H_
