// The state table: fixed memory holding one GCRA TAT per key, decided with one CAS.
//
// IMPLEMENTATION DETAILS
//
// Slot, 16 bytes, 16-byte aligned, read and written as one 128-bit word by CAS:
//
//   struct Slot {
//     uint64 tag;   // 0: empty.  bit 63 set: PENDING install, `tat` holds a nonce.
//                   // otherwise: a committed key whose identity is `tag` (see below).
//     int64  tat;   // committed: the key's theoretical arrival time, ns.
//   };
//
// Bucket: 4 slots = 64 bytes, aligned to kCacheLine. A decision touches exactly one bucket.
// The table is 2^k buckets (k >= 6), so capacity rounds up to a power of two >= 256 keys and
// memory is exactly 16 bytes per key of capacity.
//
// Hash split: h = KeyHasher::Hash(space, key), 64 bits.
//   bucket = h & (buckets - 1)          (low k bits)
//   tag    = h >> 1, or 1 if that is 0  (high 63 bits; bit 63 stays clear for PENDING)
// Since k >= 1, bucket and tag together carry all 64 bits of h: two keys share state only when
// their full 64-bit hashes are equal (or both are 0/1, one more 2^-64 case).
//
// Decision for a key already present (the steady state): read the four slots, find the
// committed one with our tag, compute GcraStep() from the (tag, tat) we read, and for an
// admission CAS the 128-bit slot from what we read to (tag, new tat). A failed CAS hands back
// the current value: recompute and retry; the loop has no side effects before its CAS wins.
// Reads are single 16-byte atomic loads where the CPU guarantees them (x86-64 with AVX: a real
// snapshot), so a denial is decided by that load alone and writes nothing: a key hammered far
// over its limit costs its cores shared cache-line reads, not a line bouncing between them.
// Elsewhere reads are two relaxed 64-bit halves that may be torn, and a denial CASes the slot
// to itself to prove the state it was computed from was real.
// At most one CAS per decision when uncontended, none for a denial.
//
// New keys. Two threads can meet the same absent key at once and pick different free slots;
// two committed copies of a key would each grant a full burst. Installing therefore takes two
// steps, each one CAS:
//   1. claim a victim slot as PENDING(tag, nonce): the nonce is the install's time (now >> 20,
//      about 1 ms units) above 20 bits of a counter in the table's header that every thread of
//      every process sharing the table fetch_adds, so a slot killed and re-claimed never looks
//      unchanged to a late CAS (no ABA) unless 2^20 installs were claimed within one such
//      millisecond (a billion per second).
//   2. rescan the bucket. A committed copy of our key wins: clear our PENDING and use it.
//      Otherwise KILL (CAS to empty) every other PENDING of our key we see, then COMMIT the
//      lowest-indexed one left (ours or another thread's) with our admitted request. Any failed
//      CAS restarts from the scan.
// At most one committed copy can exist: a committer scans after its own PENDING is visible,
// and of two racing committers the later scan sees the other's PENDING (and kills it, failing
// that commit) or its commit (and uses it). Anyone of our key may commit any of our PENDINGs,
// so a preempted installer blocks nobody: the protocol is lock-free.
//
// Victims, in order: an empty slot; another key's PENDING older than kStalePending (its
// installer died or stalled: it holds no state yet, and if the installer resumes its CAS fails
// and it rescans); a committed slot whose TAT <= now (it carries no information: a key with
// TAT <= now behaves exactly like a fresh one, so reuse loses nothing); then, when all four
// hold live keys, `when_full` decides: kEvict takes another key's PENDING or the live slot with
// the smallest TAT (that key forgets its state), kDeny answers "denied" with the wait until
// the first slot of the bucket expires, kAllow admits without keeping state. Every such event
// is counted.
//
// Sharing across processes (table_layout.h has the memory map). The table may live in memory
// several processes map: anonymous shared memory made before fork(), a file on tmpfs, or
// memory a caller hands over. Everything that must agree lives in that memory behind a
// versioned header: the hash seed (so a key lands in the same bucket everywhere), the nonce
// counter (fix for forked processes inheriting one process-local counter), the counter stripes
// (so stats are the sum of every process), the layout and sizes an attacher checks before it
// touches a slot, and the boot id (CLOCK_MONOTONIC restarts at boot: a file from a previous
// boot is refused). The memory holds offsets and sizes only. Policy key spaces are a function
// of name, rate and burst (policy.h), never of load order, so every process and every reload
// hashes a policy's keys alike.
//
// A process killed at any instruction leaves nothing locked or inconsistent: there are no
// locks, and every change to a slot is one 16-byte CAS, so each slot is always either its old
// or its new value. What a death can leave is (a) a PENDING claim without its commit: it is
// committed by the next request of its key, taken by kEvict, or reclaimed as a free slot once
// older than kStalePending under any `when_full`, so no slot stays lost; (b) a request admitted
// and then, by a multi-policy check's refund that never ran, charged without being answered:
// the same as a client that disconnected after its decision; (c) a counter increment not made:
// statistics only. The header's identity is written once, before `state` is released as ready;
// a formatter killed before that leaves `state` initialising, which attachers refuse (EBUSY).
//
// Time across threads: a slot may be reused by a thread whose `now` has passed its TAT while
// another thread, with a slightly earlier `now`, still considers it live; that second thread
// then sees the key as fresh. The over-admission this allows is bounded by the clock skew
// between the two threads divided by T (zero when threads share one time source).
//
// Refunds (a multi-check giving back what its earlier checks admitted when a later one denies,
// possibly in another table): one CAS moving the TAT back by min(cost*T, what of the admission
// is still unexpired at the refund's time). It never leaves the TAT below the state the same
// history would have without the admission, and is exact when no request in between found the
// key idle without it; the derivation, and what happens to a fresh key raced by a later clock,
// are in the IMPLEMENTATION DETAILS of engine/src/table_refund.cc.
//
// Overflow bounds: see gcra.h. TATs are < 2^62 + 2^61, so bit 63 of `tat` is never needed.
//
// Memory orders: slots are read with relaxed loads (16-byte atomic, or two 8-byte halves); no
// other memory is published through a slot, so nothing needs acquire: a slot's value is the
// whole message. A torn read is only ever a hint for the CAS that follows it. The 128-bit CAS is a
// __sync builtin, a full barrier (on x86-64 a LOCK CMPXCHG16B). Counters are relaxed: they are
// statistics, read without ordering.
#ifndef SLUICE_STATE_TABLE_H_
#define SLUICE_STATE_TABLE_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "sluice/cacheline.h"
#include "sluice/decision.h"
#include "sluice/gcra.h"
#include "sluice/key_hash.h"

namespace sluice {

namespace internal {
struct StateTableTestPeer;
struct TableHeader;
struct CounterStripe;
struct Bucket;
struct TablePath;
}  // namespace internal

enum class WhenFull : std::uint8_t { kEvict, kDeny, kAllow };

// Parses "evict" | "deny" | "allow".
absl::StatusOr<WhenFull> ParseWhenFull(std::string_view text);
std::string_view ToString(WhenFull w) noexcept;

struct TableStats {
  std::uint64_t capacity = 0;        // keys (slots)
  std::uint64_t memory_bytes = 0;    // the slot array, fixed at construction
  std::int64_t occupied = 0;         // slots holding a key, live or expired (approximate while
                                     // installs are in flight)
  std::uint64_t installs = 0;        // keys installed
  std::uint64_t reused_expired = 0;  // installs into a slot whose TAT had passed (lossless)
  std::uint64_t evictions = 0;       // live keys that lost their state (when_full: evict)
  std::uint64_t full_denied = 0;     // requests denied because the bucket was full
  std::uint64_t full_allowed = 0;    // requests admitted without state (when_full: allow)
  std::uint64_t stale_pending = 0;   // dead or stalled installers' PENDING slots reclaimed
};

// How a table is made, wherever its memory is.
struct TableOptions {
  // Keys held at once, rounded up to a power of two >= 256. Format() also takes 0: as many as
  // fit in the memory it is given.
  std::size_t capacity = std::size_t{1} << 20;
  WhenFull when_full = WhenFull::kEvict;
  // Fixed seed for reproducible placement (tests); by default 256 random bits.
  std::optional<HashSeed> seed;
};

// Flags of StateTable::OpenFile.
struct TableFileFlags {
  bool create = false;       // create and format the file when it does not exist
  bool exclusive = false;    // with create: fail when it exists
  bool reset_stale = false;  // a file from a previous boot is formatted afresh (only when no
                             // other process has it mapped)
};

class StateTable {
 public:
  static constexpr std::size_t kSlotsPerBucket = 4;
  static constexpr std::size_t kMinBuckets = 64;
  static constexpr std::size_t kHeaderBytes = 4096;
  // A PENDING claim older than this (by the install's own `now`) is taken as abandoned.
  static constexpr std::chrono::nanoseconds kStalePending{std::chrono::seconds(1)};

  // Bytes of memory a table of `capacity` keys takes: the header plus 16 bytes per key after
  // rounding. 0 when capacity is 0 or above 2^34 keys (256 GiB).
  [[nodiscard]] static std::size_t BytesFor(std::size_t capacity) noexcept;
  // The largest capacity whose table fits in `bytes`; 0 when not even 256 keys fit.
  [[nodiscard]] static std::size_t CapacityFor(std::size_t bytes) noexcept;

  // A table in private memory of this process (a fork()ed child gets a copy-on-write copy).
  // `capacity` keys, rounded up (see above). Allocates the whole table now; never again.
  // Error when capacity is 0 or above 2^34 keys (256 GiB).
  static absl::StatusOr<std::unique_ptr<StateTable>> Create(
      std::size_t capacity, WhenFull when_full, std::optional<HashSeed> seed = std::nullopt);

  // A table in anonymous MAP_SHARED memory: made before fork(), the parent and every child
  // decide on the same slots (each through its copy of this object). Errors as Create().
  static absl::StatusOr<std::unique_ptr<StateTable>> CreateShared(const TableOptions& options);

  // Formats a table into caller memory (at least 64-byte aligned; never unmapped by the
  // table), destroying whatever state it held. Errors: InvalidArgument (alignment, options),
  // OutOfRange (too small for the capacity).
  static absl::StatusOr<std::unique_ptr<StateTable>> Format(void* memory, std::size_t bytes,
                                                            const TableOptions& options);

  // A table already formatted in `memory` by this or another process, at any address. The
  // header is checked before any slot is touched. Errors: DataLoss (not a sluice table, another
  // layout version or sizes, larger than `bytes`), FailedPrecondition (another boot),
  // Unavailable (still being formatted), InvalidArgument (misaligned).
  static absl::StatusOr<std::unique_ptr<StateTable>> Attach(void* memory, std::size_t bytes);

  // A table in a file several processes map MAP_SHARED (use tmpfs: /dev/shm, /run). An
  // existing file is attached (options ignored), an absent one created (with `create`) with
  // `mode` and formatted. Errors as Attach(), plus Unknown (a system call failed; the message
  // has errno's text) and AlreadyExists (exclusive). Implemented in table_file.cc.
  static absl::StatusOr<std::unique_ptr<StateTable>> OpenFile(const std::string& path,
                                                              TableFileFlags flags, unsigned mode,
                                                              const TableOptions& options);
  ~StateTable();
  StateTable(const StateTable&) = delete;
  StateTable& operator=(const StateTable&) = delete;

  // Decides a request of `cost` for the key whose hash is `hash` under `params`, at `now`
  // (clamped to [0, kMaxTime]). Thread-safe, lock-free, no allocation, no syscall.
  // Time going backwards never admits more (see gcra.h).
  [[nodiscard]] Decision Check(std::uint64_t hash, const GcraParams& params,
                               std::chrono::nanoseconds now, std::uint64_t cost) noexcept;

  // Gives back `cost` previously admitted for this key (multi-policy checks use it when a
  // later policy denies): TAT -= cost*T. Exact unless the key was evicted in between (then
  // there is nothing to give back). Thread-safe, lock-free.
  void Refund(std::uint64_t hash, const GcraParams& params, std::uint64_t cost) noexcept;

  // Gives back an admission of `cost` whose decision left the key's TAT at `tat_after`
  // (the deciding `now` plus the decision's reset_after), as seen at `now`: TAT -= g with
  // g = min(cost*T, max(0, tat_after - now)), one CAS. Never leaves the TAT below what it
  // would be had the admission not happened, provided every request decided on the key in
  // between used a time <= `now`; exact (g = cost*T, the state as if the admission never
  // was) when `now` is the deciding time and no request in between saw the key's TAT, less
  // our admission, already passed. "Refunds" in the IMPLEMENTATION DETAILS of
  // engine/src/table_refund.cc says why. Thread-safe, lock-free, no allocation.
  void Refund(std::uint64_t hash, const GcraParams& params, std::uint64_t cost,
              std::int64_t tat_after, std::chrono::nanoseconds now) noexcept;

  // Starts loading the bucket of `hash` for writing. No effect on state.
  void Prefetch(std::uint64_t hash) const noexcept;

  // Counters, readable at any time without locks (relaxed loads).
  [[nodiscard]] TableStats Stats() const noexcept;

  // Committed keys whose TAT > now. Walks the whole table: for metrics, not for hot paths.
  [[nodiscard]] std::uint64_t CountLive(std::chrono::nanoseconds now) const noexcept;

  [[nodiscard]] std::size_t capacity() const noexcept { return bucket_count_ * kSlotsPerBucket; }
  [[nodiscard]] WhenFull when_full() const noexcept { return when_full_; }
  // The secret every limiter of this table hashes keys with (kept in the table's header).
  [[nodiscard]] const HashSeed& seed() const noexcept { return seed_; }
  // True when other processes can map this table's memory (anything but Create()).
  [[nodiscard]] bool shared() const noexcept { return shared_; }
  // Header plus slots: the memory the table occupies.
  [[nodiscard]] std::size_t table_bytes() const noexcept {
    return kHeaderBytes + bucket_count_ * kCacheLine;
  }

  using Bucket = internal::Bucket;

 private:
  friend struct internal::StateTableTestPeer;
  friend struct internal::TablePath;  // the inline fast path (internal/table_path.h)
  using CounterStripe = internal::CounterStripe;

  // A table over formatted memory; unmaps [unmap, unmap + unmap_bytes) when destroyed unless
  // `unmap` is null (caller memory).
  StateTable(internal::TableHeader* header, void* unmap, std::size_t unmap_bytes,
             bool shared) noexcept;
  static absl::StatusOr<std::unique_ptr<StateTable>> Map(const TableOptions& options, bool shared);
  // Everything but the fast path of internal/table_path.h: the whole decision loop, installs
  // included. `now` is already clamped. Out of line on purpose.
  [[gnu::noinline]] Decision CheckSlow(std::uint64_t hash, const GcraParams& params,
                                       std::int64_t now, std::uint64_t cost) noexcept;
  // A key the caller's read of the bucket did not find: the fresh decision, and the install
  // when it admits (Install's first pass reads the bucket again, so a copy committed meanwhile
  // is found and used).
  [[gnu::noinline]] Decision CheckAbsent(std::uint64_t hash, const GcraParams& params,
                                         std::int64_t now, std::uint64_t cost) noexcept;
  CounterStripe& StripeFor(std::uint64_t hash) noexcept;
  [[nodiscard]] std::int64_t NextNonce(std::int64_t now) noexcept;
  // The install protocol of a key found absent, from its claim to its commit (or to a copy of
  // the key another thread committed meanwhile), in one call.
  Decision Install(Bucket& bucket, std::uint64_t tag, std::uint64_t hash, const GcraParams& params,
                   std::int64_t now, std::uint64_t cost) noexcept;

  Bucket* buckets_;
  std::size_t bucket_count_;
  std::uint64_t bucket_mask_;
  WhenFull when_full_;
  bool atomic_loads_;  // internal::HasAtomic16ByteLoads(), asked once
  bool shared_;
  internal::TableHeader* header_;  // in the table's memory: seed, nonces, counters
  CounterStripe* stripes_;         // header_->stripes
  HashSeed seed_;                  // a copy of the header's
  void* unmap_;
  std::size_t unmap_bytes_;
};

}  // namespace sluice

#endif  // SLUICE_STATE_TABLE_H_
