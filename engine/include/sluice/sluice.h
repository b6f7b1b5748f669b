// The umbrella header of sluice::engine: #include <sluice/sluice.h>.
#ifndef SLUICE_SLUICE_H_
#define SLUICE_SLUICE_H_

#include "sluice/cacheline.h"    // IWYU pragma: export
#include "sluice/decision.h"     // IWYU pragma: export
#include "sluice/gcra.h"         // IWYU pragma: export
#include "sluice/key_hash.h"     // IWYU pragma: export
#include "sluice/limiter.h"      // IWYU pragma: export
#include "sluice/policy.h"       // IWYU pragma: export
#include "sluice/rate.h"         // IWYU pragma: export
#include "sluice/state_table.h"  // IWYU pragma: export

#endif  // SLUICE_SLUICE_H_
