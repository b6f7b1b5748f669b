// The lab's algorithms behind one concept (no virtual base): each answers with the shared
// sluice::Decision, so sluice-sim, the tests and the benchmarks treat them alike.
//
//   name                    class                   state                      thread-safety
//   gcra                    GcraAlgorithm           sluice::Limiter (16 B)     lock-free
//   token-bucket            TokenBucket             SlotTable (16 B)           lock-free
//   leaky-bucket            LeakyBucket             SlotTable (16 B)           lock-free
//   fixed-window            FixedWindow             SlotTable (16 B)           lock-free
//   sliding-window-counter  SlidingWindowCounter    StripedMap, grows by key   mutex-striped
//   sliding-log             SlidingLog              StripedMap + a log per key mutex-striped
//
// Bucket algorithms (gcra, token-bucket, leaky-bucket) use the rate and the burst. Window
// algorithms (fixed-window, sliding-window-counter, sliding-log) admit `rate.count` per
// `rate.period` and ignore the burst.
#ifndef SLUICE_ALGORITHMS_ALGORITHM_H_
#define SLUICE_ALGORITHMS_ALGORITHM_H_

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "sluice/decision.h"
#include "sluice/key_hash.h"
#include "sluice/rate.h"

namespace sluice::algorithms {

struct AlgorithmConfig {
  Rate rate;
  std::uint64_t burst = 1;                      // bucket algorithms only
  std::size_t capacity = std::size_t{1} << 20;  // keys, for the fixed-memory tables
  std::optional<HashSeed> seed;                 // fixed seed for reproducible placement
};

// Every algorithm of the lab:
//   Create(config)        validates (errors a user can act on) and allocates.
//   Check(key, now, cost) decides and consumes; thread-safe, never throws.
//   Peek(key, now, cost)  what Check would answer, changing nothing (the lab measures the
//                         accuracy of retry_after with it).
//   bytes_per_key()       memory held per key: fixed tables per key of capacity, maps per key
//                         held now.
//   kName                 the name sluice-sim knows it by.
template <class A>
concept Algorithm = requires(A a, const A ca, const AlgorithmConfig& config, std::string_view key,
                             std::chrono::nanoseconds now, std::uint64_t cost) {
  { A::Create(config) } -> std::same_as<absl::StatusOr<std::unique_ptr<A>>>;
  { a.Check(key, now, cost) }
  noexcept->std::same_as<Decision>;
  { a.Peek(key, now, cost) }
  noexcept->std::same_as<Decision>;
  { ca.bytes_per_key() }
  noexcept->std::convertible_to<double>;
  { A::kName } -> std::convertible_to<std::string_view>;
};

// The key space every lab algorithm hashes its keys in (there is one policy per instance).
inline constexpr std::uint64_t kLabSpace = 0x1ab;

// What the step of an algorithm whose state is one 64-bit word answers (token-bucket,
// leaky-bucket, fixed-window): the decision and, when `write`, the word to store.
struct SlotStep {
  Decision decision;
  bool write = false;
  std::uint64_t word = 0;
};

// The state of one key of those algorithms (and of gcra, whose word is the TAT) when the caller
// holds it instead of a table: default-constructed, a key never seen.
struct SlotWord {
  std::uint64_t word = 0;
  bool found = false;
};

// An algorithm whose rule also runs on per-key state the caller holds, with no table: the log
// replay of sluice-sim keeps one state per key and per limit in dense arrays (tools/sim).
//   KeyState                       default-constructed: a fresh key.
//   Decide(state, now, cost)       what Check decides for a key in `state`; updates `state` as
//                                  Check updates the key's. Touches nothing else; not
//                                  thread-safe for one state. Same time rules as Check.
template <class A>
concept Replayable = Algorithm<A> && requires(const A ca, typename A::KeyState& state,
                                              std::chrono::nanoseconds now, std::uint64_t cost) {
  { ca.Decide(state, now, cost) }
  noexcept->std::same_as<Decision>;
};

}  // namespace sluice::algorithms

#endif  // SLUICE_ALGORITHMS_ALGORITHM_H_
