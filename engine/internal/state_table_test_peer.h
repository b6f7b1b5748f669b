// Test-only access to StateTable internals.
#ifndef SLUICE_INTERNAL_STATE_TABLE_TEST_PEER_H_
#define SLUICE_INTERNAL_STATE_TABLE_TEST_PEER_H_

#include "internal/table_layout.h"
#include "sluice/state_table.h"

namespace sluice::internal {

struct StateTableTestPeer {
  // Use the portable read path (two relaxed 8-byte halves, denials proven by a CAS) even on a
  // CPU with atomic 16-byte loads, so tests cover both paths. Call before any concurrent use.
  static void ForceSplitReads(StateTable& table) { table.atomic_loads_ = false; }
  static bool AtomicLoads(const StateTable& table) { return table.atomic_loads_; }
  // The next install nonce, as an install at `now` would draw it.
  static std::int64_t NextNonce(StateTable& table, std::int64_t now) {
    return table.NextNonce(now);
  }
  // Slot i of bucket b, for tests that plant or inspect raw slot words.
  static Slot& SlotAt(StateTable& table, std::size_t bucket, std::size_t i) {
    return table.buckets_[bucket].slots[i];
  }
  static std::size_t BucketCount(const StateTable& table) { return table.bucket_count_; }
  static TableHeader* Header(StateTable& table) { return table.header_; }
};

}  // namespace sluice::internal

#endif  // SLUICE_INTERNAL_STATE_TABLE_TEST_PEER_H_
