// What the C ABI's opaque handles are, and the helpers every c_api/*.cc file shares.
// Private to libsluice: nothing here is visible to its users.
#ifndef SLUICE_C_API_HANDLES_H_
#define SLUICE_C_API_HANDLES_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "sluice/c.h"
#include "sluice/decision.h"
#include "sluice/key_hash.h"
#include "sluice/limiter.h"
#include "sluice/state_table.h"

// A process-local handle onto a table. The table itself may live in memory other processes
// map (its header holds the seed, nonces and counters); the handle only says where.
struct sluice_table {
  std::shared_ptr<sluice::StateTable> table;
};

// A process-local limiter. `policy_count` is cached so the hot path checks an index with one
// compare against the handle itself.
struct sluice_limiter {
  std::unique_ptr<sluice::Limiter> limiter;
  std::uint32_t policy_count = 0;
};

namespace sluice::c_api {

// Writes `message` NUL-terminated into err[0, errlen), truncated to fit; nothing when `err` is
// NULL or `errlen` 0. Never allocates.
void SetError(char* err, std::size_t errlen, std::string_view message) noexcept;

// The SLUICE_E* code for a configuration error of the engine, with its message in `err`.
int FromStatus(const absl::Status& status, char* err, std::size_t errlen) noexcept;

// Whether this CPU has the 16-byte CAS the state table needs (CPUID CMPXCHG16B).
bool HasCas16() noexcept;

// An engine decision as the C struct.
[[nodiscard]] inline sluice_decision ToC(const Decision& d) noexcept {
  sluice_decision c;
  c.allowed = d.allowed ? 1 : 0;
  c.flags = d.never() ? SLUICE_DECISION_NEVER : 0;
  c.remaining = d.remaining;
  c.retry_after_ns = d.retry_after.count();
  c.reset_after_ns = d.reset_after.count();
  return c;
}

[[nodiscard]] inline std::string_view KeyOf(const void* key, std::size_t len) noexcept {
  return {static_cast<const char*>(key), len};
}

// Validates every request of a batch (sluice_check_batch, sluice_check_all) before any is
// decided: a bad one changes nothing. SLUICE_OK or the error to return.
[[nodiscard]] int CheckRequests(const sluice_limiter* l, const sluice_request* r, std::size_t n,
                                const sluice_decision* out) noexcept;

}  // namespace sluice::c_api

#endif  // SLUICE_C_API_HANDLES_H_
