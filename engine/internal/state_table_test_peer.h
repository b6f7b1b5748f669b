// Test-only access to StateTable internals.
#ifndef SLUICE_INTERNAL_STATE_TABLE_TEST_PEER_H_
#define SLUICE_INTERNAL_STATE_TABLE_TEST_PEER_H_

#include "sluice/state_table.h"

namespace sluice::internal {

struct StateTableTestPeer {
  // Use the portable read path (two relaxed 8-byte halves, denials proven by a CAS) even on a
  // CPU with atomic 16-byte loads, so tests cover both paths. Call before any concurrent use.
  static void ForceSplitReads(StateTable& table) { table.atomic_loads_ = false; }
  static bool AtomicLoads(const StateTable& table) { return table.atomic_loads_; }
};

}  // namespace sluice::internal

#endif  // SLUICE_INTERNAL_STATE_TABLE_TEST_PEER_H_
