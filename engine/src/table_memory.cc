// Where a state table's memory comes from, and its header: private memory, anonymous shared
// memory, caller memory (Format / Attach). The decisions themselves are in state_table.cc, the
// file mode in table_file.cc, the memory map in internal/table_layout.h.
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "internal/atomic_slot.h"
#include "internal/boot_id.h"
#include "internal/table_layout.h"
#include "sluice/state_table.h"

namespace sluice {

using internal::TableHeader;

namespace {

constexpr std::size_t kMaxCapacity = std::size_t{1} << 34;
constexpr std::size_t kMinCapacity = StateTable::kMinBuckets * StateTable::kSlotsPerBucket;

std::size_t BucketsFor(std::size_t capacity) noexcept {
  const std::size_t wanted =
      (capacity + StateTable::kSlotsPerBucket - 1) / StateTable::kSlotsPerBucket;
  return std::max(StateTable::kMinBuckets, std::bit_ceil(wanted));
}

std::uint32_t WhenFullCode(WhenFull w) noexcept { return static_cast<std::uint32_t>(w); }

bool ValidBootId(const std::uint8_t* id) noexcept {
  return std::any_of(id, id + 16, [](std::uint8_t b) { return b != 0; });
}

std::int64_t MonotonicNs() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

absl::Status CheckCapacity(std::size_t capacity) {
  if (capacity == 0) return absl::InvalidArgumentError("table capacity must be at least 1");
  if (capacity > kMaxCapacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("table capacity ", capacity, " is above the maximum ", kMaxCapacity));
  }
  return absl::OkStatus();
}

// Writes a fresh header and clears every slot of a table of `bucket_count` buckets at `memory`.
// `state` goes to initialising first and to ready last (release), so an attacher that acquires
// ready sees every byte written here.
TableHeader* WriteTable(void* memory, std::size_t bucket_count, WhenFull when_full,
                        const HashSeed& seed) noexcept {
  auto* header = static_cast<TableHeader*>(memory);
  // Relaxed: nothing is published by this store; it only tells attachers to keep off.
  header->state.store(internal::kStateInitializing, std::memory_order_relaxed);
  std::memcpy(header->magic, internal::kTableMagic, sizeof header->magic);
  header->layout_version = internal::kLayoutVersion;
  header->header_bytes = internal::kHeaderBytes;
  header->slot_bytes = sizeof(internal::Slot);
  header->slots_per_bucket = internal::kSlotsPerBucket;
  header->bucket_count = bucket_count;
  header->table_bytes = internal::kHeaderBytes + bucket_count * sizeof(internal::Bucket);
  header->buckets_offset = internal::kHeaderBytes;
  header->when_full = WhenFullCode(when_full);
  header->clock_id = internal::kClockMonotonic;
  for (std::size_t i = 0; i < 4; ++i) header->seed[i] = seed.words[i];
  std::memcpy(header->boot_id, internal::BootId().data(), sizeof header->boot_id);
  header->created_ns = MonotonicNs();
  header->creator_pid = static_cast<std::int32_t>(getpid());
  header->reserved = 0;
  // Relaxed: published by the release store of `state` below.
  header->next_nonce.store(1, std::memory_order_relaxed);
  for (internal::CounterStripe& s : header->stripes) {
    for (auto* c : {&s.installs, &s.reused_expired, &s.evictions, &s.full_denied, &s.full_allowed,
                    &s.stale_pending}) {
      c->store(0, std::memory_order_relaxed);
    }
    s.occupied.store(0, std::memory_order_relaxed);
  }
  // Commits every page now (memory fixed at start, the hot path never page-faults) and
  // empties every slot.
  std::memset(static_cast<char*>(memory) + internal::kHeaderBytes, 0,
              bucket_count * sizeof(internal::Bucket));
  // Release: pairs with the acquire load in Attach(); everything above happens-before it.
  header->state.store(internal::kStateReady, std::memory_order_release);
  return header;
}

}  // namespace

std::size_t StateTable::BytesFor(std::size_t capacity) noexcept {
  if (capacity == 0 || capacity > kMaxCapacity) return 0;
  return kHeaderBytes + BucketsFor(capacity) * sizeof(Bucket);
}

std::size_t StateTable::CapacityFor(std::size_t bytes) noexcept {
  if (bytes < kHeaderBytes + kMinCapacity * 16) return 0;
  return std::bit_floor(std::min(kMaxCapacity, (bytes - kHeaderBytes) / 16));
}

StateTable::StateTable(TableHeader* header, void* unmap, std::size_t unmap_bytes,
                       bool shared) noexcept
    : buckets_(reinterpret_cast<Bucket*>(reinterpret_cast<char*>(header) + header->buckets_offset)),
      bucket_count_(header->bucket_count),
      bucket_mask_(header->bucket_count - 1),
      when_full_(static_cast<WhenFull>(header->when_full)),
      atomic_loads_(internal::HasAtomic16ByteLoads()),
      shared_(shared),
      header_(header),
      stripes_(header->stripes),
      unmap_(unmap),
      unmap_bytes_(unmap_bytes) {
  for (std::size_t i = 0; i < 4; ++i) seed_.words[i] = header->seed[i];
}

StateTable::~StateTable() {
  if (unmap_ != nullptr) munmap(unmap_, unmap_bytes_);
}

absl::StatusOr<std::unique_ptr<StateTable>> StateTable::Map(const TableOptions& options,
                                                            bool shared) {
  if (auto s = CheckCapacity(options.capacity); !s.ok()) return s;
  const std::size_t bucket_count = BucketsFor(options.capacity);
  const std::size_t bytes = kHeaderBytes + bucket_count * sizeof(Bucket);
  const HashSeed seed = options.seed.value_or(HashSeed::Random());
  // Anonymous memory is zeroed and page aligned. Large private tables ask for transparent
  // huge pages: random probes then miss the TLB far less often.
  void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                      (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot map ", bytes, " bytes for a table of ", options.capacity, " keys"));
  }
  if (bytes >= (std::size_t{2} << 20)) {
    (void)madvise(memory, bytes, MADV_HUGEPAGE);  // advisory: failure only costs speed
  }
  TableHeader* header = WriteTable(memory, bucket_count, options.when_full, seed);
  return std::unique_ptr<StateTable>(new StateTable(header, memory, bytes, shared));
}

absl::StatusOr<std::unique_ptr<StateTable>> StateTable::Create(std::size_t capacity,
                                                               WhenFull when_full,
                                                               std::optional<HashSeed> seed) {
  TableOptions options;
  options.capacity = capacity;
  options.when_full = when_full;
  options.seed = seed;
  return Map(options, /*shared=*/false);
}

absl::StatusOr<std::unique_ptr<StateTable>> StateTable::CreateShared(const TableOptions& options) {
  return Map(options, /*shared=*/true);
}

absl::StatusOr<std::unique_ptr<StateTable>> StateTable::Format(void* memory, std::size_t bytes,
                                                               const TableOptions& options) {
  if (memory == nullptr) return absl::InvalidArgumentError("table memory is NULL");
  if (reinterpret_cast<std::uintptr_t>(memory) % kCacheLine != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("table memory must be aligned to ", kCacheLine, " bytes"));
  }
  std::size_t capacity = options.capacity;
  if (capacity == 0) {
    capacity = CapacityFor(bytes);
    if (capacity == 0) {
      return absl::OutOfRangeError(absl::StrCat(bytes, " bytes cannot hold a table: the smallest (",
                                                kMinCapacity, " keys) takes ",
                                                BytesFor(kMinCapacity)));
    }
  }
  if (auto s = CheckCapacity(capacity); !s.ok()) return s;
  const std::size_t needed = BytesFor(capacity);
  if (bytes < needed) {
    return absl::OutOfRangeError(absl::StrCat("a table of ", capacity, " keys needs ", needed,
                                              " bytes; the memory has ", bytes));
  }
  TableHeader* header = WriteTable(memory, BucketsFor(capacity), options.when_full,
                                   options.seed.value_or(HashSeed::Random()));
  return std::unique_ptr<StateTable>(new StateTable(header, nullptr, 0, /*shared=*/true));
}

absl::StatusOr<std::unique_ptr<StateTable>> StateTable::Attach(void* memory, std::size_t bytes) {
  if (memory == nullptr) return absl::InvalidArgumentError("table memory is NULL");
  if (reinterpret_cast<std::uintptr_t>(memory) % kCacheLine != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("table memory must be aligned to ", kCacheLine, " bytes"));
  }
  if (bytes < kHeaderBytes) {
    return absl::DataLossError(
        absl::StrCat(bytes, " bytes is smaller than a table header (", kHeaderBytes, ")"));
  }
  auto* header = static_cast<TableHeader*>(memory);
  // Acquire: pairs with the release store of kStateReady in WriteTable().
  const std::uint32_t state = header->state.load(std::memory_order_acquire);
  const bool magic = std::memcmp(header->magic, internal::kTableMagic, sizeof header->magic) == 0;
  if (state != internal::kStateReady) {
    if (state == internal::kStateInitializing || (state == internal::kStateUnformatted && magic)) {
      return absl::UnavailableError("the table is still being formatted");
    }
    return absl::DataLossError("not a sluice table (no ready header)");
  }
  if (!magic) return absl::DataLossError("not a sluice table (bad magic)");
  if (header->layout_version != internal::kLayoutVersion) {
    return absl::DataLossError(absl::StrCat("table layout version ", header->layout_version,
                                            "; this library reads version ",
                                            internal::kLayoutVersion));
  }
  if (header->header_bytes != kHeaderBytes || header->slot_bytes != sizeof(internal::Slot) ||
      header->slots_per_bucket != kSlotsPerBucket || header->buckets_offset != kHeaderBytes ||
      header->clock_id != internal::kClockMonotonic) {
    return absl::DataLossError("table header or slot sizes differ from this library's");
  }
  const std::uint64_t buckets = header->bucket_count;
  if (buckets < kMinBuckets || !std::has_single_bit(buckets) ||
      buckets > kMaxCapacity / kSlotsPerBucket ||
      header->table_bytes != kHeaderBytes + buckets * sizeof(Bucket) ||
      header->when_full > WhenFullCode(WhenFull::kAllow)) {
    return absl::DataLossError("table header is inconsistent (bucket count, size or when_full)");
  }
  if (header->table_bytes > bytes) {
    return absl::DataLossError(absl::StrCat("the table takes ", header->table_bytes,
                                            " bytes; the memory has only ", bytes));
  }
  const auto& boot = internal::BootId();
  if (ValidBootId(header->boot_id) && ValidBootId(boot.data()) &&
      std::memcmp(header->boot_id, boot.data(), boot.size()) != 0) {
    return absl::FailedPreconditionError(
        "the table was formatted under another boot: its CLOCK_MONOTONIC times mean nothing now");
  }
  return std::unique_ptr<StateTable>(new StateTable(header, nullptr, 0, /*shared=*/true));
}

}  // namespace sluice
