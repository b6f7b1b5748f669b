// The memory of a state table: a 4 KiB header, then the buckets. The same layout serves a
// private table, anonymous shared memory, a file on tmpfs and memory a caller hands over (an
// nginx zone), so it holds offsets and sizes, never pointers, and every process that maps it,
// at any address, reads the same table. Private to the engine.
//
//   offset 0      TableHeader (kHeaderBytes)
//     line 0      identity: magic "SLUICE\0T", layout version, header/slot/bucket sizes,
//                 bucket count, table bytes, buckets offset, when_full, clock id, hash seed,
//                 boot id, creator pid and time. Written once by the formatter, read-only after.
//     line 2      state: kStateInitializing while formatting, kStateReady after (release).
//     line 3      next_nonce: install nonces, fetch_add'ed by every process.
//     lines 4..19 counter stripes (statistics), summed over every process.
//   offset 4096   Bucket[bucket_count], 64 bytes each, 4 slots of 16 bytes (state_table.h).
//
// Change anything here and bump kLayoutVersion: an attacher refuses any other version rather
// than reinterpreting it (Envoy's hot-restart rule).
#ifndef SLUICE_INTERNAL_TABLE_LAYOUT_H_
#define SLUICE_INTERNAL_TABLE_LAYOUT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "internal/atomic_slot.h"
#include "sluice/cacheline.h"

namespace sluice::internal {

inline constexpr char kTableMagic[8] = {'S', 'L', 'U', 'I', 'C', 'E', '\0', 'T'};
inline constexpr std::uint32_t kLayoutVersion = 1;
inline constexpr std::size_t kHeaderBytes = 4096;
inline constexpr std::size_t kSlotsPerBucket = 4;
inline constexpr std::size_t kStripes = 16;
inline constexpr std::uint32_t kClockMonotonic = 1;  // the only clock id so far

enum : std::uint32_t {
  kStateUnformatted = 0,
  kStateInitializing = 1,
  kStateReady = 2,
};

struct alignas(kCacheLine) Bucket {
  Slot slots[kSlotsPerBucket];
};
static_assert(sizeof(Bucket) == kCacheLine && alignof(Bucket) == kCacheLine);
static_assert(sizeof(Bucket) / kSlotsPerBucket == 16, "16 bytes per key of capacity");

// Statistics, one stripe per 1/16 of the hash space so that installs on different cores
// rarely write one line. Relaxed: counters, read without ordering.
struct alignas(kCacheLine) CounterStripe {
  std::atomic<std::uint64_t> installs;
  std::atomic<std::uint64_t> reused_expired;
  std::atomic<std::uint64_t> evictions;
  std::atomic<std::uint64_t> full_denied;
  std::atomic<std::uint64_t> full_allowed;
  std::atomic<std::uint64_t> stale_pending;
  std::atomic<std::int64_t> occupied;
};
static_assert(sizeof(CounterStripe) == kCacheLine);

struct TableHeader {
  // Identity (line 0 and 1): plain fields, written before `state` is released as ready and
  // never again; an attacher reads them after acquiring `state`.
  char magic[8];
  std::uint32_t layout_version;
  std::uint32_t header_bytes;
  std::uint32_t slot_bytes;
  std::uint32_t slots_per_bucket;
  std::uint64_t bucket_count;
  std::uint64_t table_bytes;  // header + buckets
  std::uint64_t buckets_offset;
  std::uint32_t when_full;  // WhenFull
  std::uint32_t clock_id;   // kClockMonotonic
  std::uint64_t seed[4];
  std::uint8_t boot_id[16];  // /proc/sys/kernel/random/boot_id when formatted; 0s if unknown
  std::int64_t created_ns;   // CLOCK_MONOTONIC at format, for humans
  std::int32_t creator_pid;
  std::uint32_t reserved;

  alignas(kCacheLine * 2) std::atomic<std::uint32_t> state;
  alignas(kCacheLine) std::atomic<std::uint64_t> next_nonce;
  CounterStripe stripes[kStripes];
};
static_assert(sizeof(TableHeader) <= kHeaderBytes);
static_assert(offsetof(TableHeader, state) == 2 * kCacheLine);
static_assert(offsetof(TableHeader, next_nonce) == 3 * kCacheLine);
static_assert(offsetof(TableHeader, stripes) == 4 * kCacheLine);
// Atomics in memory other processes map must be address-free, i.e. lock-free.
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

}  // namespace sluice::internal

#endif  // SLUICE_INTERNAL_TABLE_LAYOUT_H_
