// The kernel's boot id, which a table in a file records: CLOCK_MONOTONIC restarts at every
// boot, so TATs written under another boot mean nothing. Private to the engine.
#ifndef SLUICE_INTERNAL_BOOT_ID_H_
#define SLUICE_INTERNAL_BOOT_ID_H_

#include <array>
#include <cstdint>

namespace sluice::internal {

// /proc/sys/kernel/random/boot_id as 16 bytes, read once per process (configuration time
// only); all zeros when it cannot be read, which attachers then do not compare.
const std::array<std::uint8_t, 16>& BootId();

}  // namespace sluice::internal

#endif  // SLUICE_INTERNAL_BOOT_ID_H_
