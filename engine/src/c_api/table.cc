// Tables through the C ABI: options, the memory modes, close, stats.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <new>

#include "absl/strings/str_cat.h"
#include "c_api/handles.h"

namespace sluice::c_api {
namespace {

constexpr std::uint64_t kDefaultCapacity = std::uint64_t{1} << 20;
constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 34;

// The caller's options, read field by field up to the size it compiled against; fields it did
// not know keep their defaults. False when `o->size` cannot even hold the size field.
bool ReadOptions(const sluice_table_options* o, sluice_table_options* into) noexcept {
  sluice_table_options_init(into, sizeof *into);
  if (o == nullptr) return true;
  if (o->size < sizeof(o->size)) return false;
  std::memcpy(static_cast<void*>(into), o, std::min(o->size, sizeof *into));
  into->size = sizeof *into;
  return true;
}

int CheckOptions(const sluice_table_options& o, bool capacity_zero_ok, char* err,
                 std::size_t errlen) noexcept {
  if (o.when_full < SLUICE_WHEN_FULL_EVICT || o.when_full > SLUICE_WHEN_FULL_ALLOW) {
    SetError(err, errlen, "when_full must be SLUICE_WHEN_FULL_EVICT, _DENY or _ALLOW");
    return SLUICE_EINVAL;
  }
  if ((o.flags & ~std::uint32_t{SLUICE_TABLE_FIXED_SEED}) != 0) {
    SetError(err, errlen, "unknown bits in sluice_table_options.flags");
    return SLUICE_EINVAL;
  }
  if (o.capacity == 0 && !capacity_zero_ok) {
    SetError(err, errlen, "table capacity must be at least 1");
    return SLUICE_EINVAL;
  }
  if (o.capacity > kMaxCapacity) {
    SetError(err, errlen, "table capacity is above the maximum of 2^34 keys");
    return SLUICE_ERANGE;
  }
  if (!HasCas16()) {
    SetError(err, errlen, "this CPU has no 16-byte compare-and-swap (CMPXCHG16B)");
    return SLUICE_ENOTSUP;
  }
  return SLUICE_OK;
}

WhenFull ToWhenFull(std::int32_t w) noexcept {
  switch (w) {
    case SLUICE_WHEN_FULL_DENY:
      return WhenFull::kDeny;
    case SLUICE_WHEN_FULL_ALLOW:
      return WhenFull::kAllow;
    default:
      return WhenFull::kEvict;
  }
}

TableOptions ToTableOptions(const sluice_table_options& o) {
  TableOptions t;
  t.capacity = static_cast<std::size_t>(o.capacity);
  t.when_full = ToWhenFull(o.when_full);
  if ((o.flags & SLUICE_TABLE_FIXED_SEED) != 0) {
    HashSeed seed;
    for (std::size_t i = 0; i < seed.words.size(); ++i) seed.words[i] = o.seed[i];
    t.seed = seed;
  }
  return t;
}

// Runs a configuration-time step that may throw (allocation, std::random_device) and turns
// its StatusOr<table> into a handle; nothing escapes but an error code.
template <typename Make>
int MakeHandle(Make&& make, sluice_table** out, char* err, std::size_t errlen) noexcept {
  try {
    absl::StatusOr<std::unique_ptr<StateTable>> table = make();
    if (!table.ok()) return FromStatus(table.status(), err, errlen);
    auto handle = std::make_unique<sluice_table>();
    handle->table = std::shared_ptr<StateTable>(*std::move(table));
    *out = handle.release();
    return SLUICE_OK;
  } catch (const std::bad_alloc&) {
    SetError(err, errlen, "out of memory");
    return SLUICE_ENOMEM;
  } catch (const std::exception& e) {
    SetError(err, errlen, e.what());
    return SLUICE_EINVAL;
  } catch (...) {
    SetError(err, errlen, "unexpected error");
    return SLUICE_EINVAL;
  }
}

// The options of a create call, read and checked; SLUICE_OK or the error to return.
int Prepare(const sluice_table_options* o, bool capacity_zero_ok, sluice_table** out,
            sluice_table_options* opts, char* err, std::size_t errlen) noexcept {
  if (out == nullptr) return SLUICE_EINVAL;
  *out = nullptr;
  if (!ReadOptions(o, opts)) {
    SetError(err, errlen, "sluice_table_options.size is too small: use sluice_table_options_init");
    return SLUICE_EINVAL;
  }
  return CheckOptions(*opts, capacity_zero_ok, err, errlen);
}

}  // namespace
}  // namespace sluice::c_api

using namespace sluice::c_api;  // NOLINT(google-build-using-namespace): this file's own helpers
using sluice::StateTable;
using sluice::TableFileFlags;

extern "C" {

void sluice_table_options_init(sluice_table_options* o, size_t size) noexcept {
  if (o == nullptr || size < sizeof(o->size)) return;
  std::memset(static_cast<void*>(o), 0, size);
  sluice_table_options defaults;
  std::memset(&defaults, 0, sizeof defaults);
  defaults.size = size;
  defaults.capacity = kDefaultCapacity;
  defaults.when_full = SLUICE_WHEN_FULL_EVICT;
  std::memcpy(static_cast<void*>(o), &defaults, std::min(size, sizeof defaults));
}

size_t sluice_table_bytes(uint64_t capacity) noexcept {
  if (capacity == 0 || capacity > kMaxCapacity) return 0;
  return StateTable::BytesFor(static_cast<std::size_t>(capacity));
}

uint64_t sluice_table_capacity_for_bytes(size_t bytes) noexcept {
  return StateTable::CapacityFor(bytes);
}

int sluice_table_create(const sluice_table_options* o, sluice_table** out, char* err,
                        size_t errlen) noexcept {
  sluice_table_options opts;
  if (const int rc = Prepare(o, /*capacity_zero_ok=*/false, out, &opts, err, errlen); rc != 0) {
    return rc;
  }
  return MakeHandle(
      [&] {
        return StateTable::Create(static_cast<std::size_t>(opts.capacity),
                                  ToWhenFull(opts.when_full), ToTableOptions(opts).seed);
      },
      out, err, errlen);
}

int sluice_table_create_shared(const sluice_table_options* o, sluice_table** out, char* err,
                               size_t errlen) noexcept {
  sluice_table_options opts;
  if (const int rc = Prepare(o, /*capacity_zero_ok=*/false, out, &opts, err, errlen); rc != 0) {
    return rc;
  }
  return MakeHandle([&] { return StateTable::CreateShared(ToTableOptions(opts)); }, out, err,
                    errlen);
}

int sluice_table_open_file(const char* path, int flags, unsigned mode,
                           const sluice_table_options* o, sluice_table** out, char* err,
                           size_t errlen) noexcept {
  sluice_table_options opts;
  if (const int rc = Prepare(o, /*capacity_zero_ok=*/false, out, &opts, err, errlen); rc != 0) {
    return rc;
  }
  constexpr int kKnown = SLUICE_OPEN_CREATE | SLUICE_OPEN_EXCL | SLUICE_OPEN_RESET_STALE;
  if (path == nullptr || (flags & ~kKnown) != 0) {
    SetError(err, errlen, "path is NULL or flags has unknown bits");
    return SLUICE_EINVAL;
  }
  TableFileFlags f;
  f.create = (flags & SLUICE_OPEN_CREATE) != 0;
  f.exclusive = (flags & SLUICE_OPEN_EXCL) != 0;
  f.reset_stale = (flags & SLUICE_OPEN_RESET_STALE) != 0;
  return MakeHandle([&] { return StateTable::OpenFile(path, f, mode, ToTableOptions(opts)); }, out,
                    err, errlen);
}

int sluice_table_format(void* mem, size_t bytes, const sluice_table_options* o, sluice_table** out,
                        char* err, size_t errlen) noexcept {
  sluice_table_options opts;
  if (const int rc = Prepare(o, /*capacity_zero_ok=*/true, out, &opts, err, errlen); rc != 0) {
    return rc;
  }
  return MakeHandle([&] { return StateTable::Format(mem, bytes, ToTableOptions(opts)); }, out, err,
                    errlen);
}

int sluice_table_attach(void* mem, size_t bytes, sluice_table** out, char* err,
                        size_t errlen) noexcept {
  if (out == nullptr) return SLUICE_EINVAL;
  *out = nullptr;
  if (!HasCas16()) {
    SetError(err, errlen, "this CPU has no 16-byte compare-and-swap (CMPXCHG16B)");
    return SLUICE_ENOTSUP;
  }
  return MakeHandle([&] { return StateTable::Attach(mem, bytes); }, out, err, errlen);
}

void sluice_table_close(sluice_table* t) noexcept { delete t; }

int sluice_table_get_stats(const sluice_table* t, sluice_table_stats* out, size_t size) noexcept {
  if (t == nullptr || out == nullptr || size < sizeof(out->size)) return SLUICE_EINVAL;
  const sluice::TableStats s = t->table->Stats();
  sluice_table_stats full;
  std::memset(&full, 0, sizeof full);
  full.capacity = s.capacity;
  full.memory_bytes = t->table->table_bytes();
  full.occupied = s.occupied;
  full.installs = s.installs;
  full.reused_expired = s.reused_expired;
  full.evictions = s.evictions;
  full.full_denied = s.full_denied;
  full.full_allowed = s.full_allowed;
  full.stale_pending = s.stale_pending;
  full.shared = t->table->shared() ? 1 : 0;
  switch (t->table->when_full()) {
    case sluice::WhenFull::kEvict:
      full.when_full = SLUICE_WHEN_FULL_EVICT;
      break;
    case sluice::WhenFull::kDeny:
      full.when_full = SLUICE_WHEN_FULL_DENY;
      break;
    case sluice::WhenFull::kAllow:
      full.when_full = SLUICE_WHEN_FULL_ALLOW;
      break;
  }
  const std::size_t n = std::min(size, sizeof full);
  full.size = n;
  std::memcpy(static_cast<void*>(out), &full, n);
  return SLUICE_OK;
}

int sluice_table_count_live(const sluice_table* t, int64_t now_ns, uint64_t* live) noexcept {
  if (t == nullptr || live == nullptr) return SLUICE_EINVAL;
  *live = t->table->CountLive(std::chrono::nanoseconds{now_ns});
  return SLUICE_OK;
}

}  // extern "C"
