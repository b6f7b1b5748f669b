// Limiters through the C ABI: policies, create/find/destroy, single and multi-policy checks,
// refunds. The batch checks are in batch.cc.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "c_api/handles.h"
#include "sluice/rate.h"

namespace sluice::c_api {
namespace {

using std::chrono::nanoseconds;

constexpr std::size_t kMaxNameBytes = 255;

// The parts of a C decision a refund reads (allowed, reset_after).
[[nodiscard]] inline Decision FromC(const sluice_decision& c) noexcept {
  Decision d;
  d.allowed = c.allowed != 0;
  d.remaining = c.remaining;
  d.retry_after = nanoseconds{c.retry_after_ns};
  d.reset_after = nanoseconds{c.reset_after_ns};
  return d;
}

// Is `a` more restrictive than `b`, for reporting (the rule of Limiter::CheckAll)?
[[nodiscard]] inline bool MoreRestrictive(const sluice_decision& a,
                                          const sluice_decision& b) noexcept {
  if (a.remaining != b.remaining) return a.remaining < b.remaining;
  return a.reset_after_ns > b.reset_after_ns;
}

// One sluice_policy of the caller's array, read up to the size it compiled against.
int ReadPolicy(const sluice_policy* p, std::size_t index, PolicyConfig* into, char* err,
               std::size_t errlen) {
  sluice_policy full;
  sluice_policy_init(&full, sizeof full);
  std::memcpy(static_cast<void*>(&full), p, std::min(p->size, sizeof full));
  if (full.name == nullptr) {
    SetError(err, errlen, absl::StrCat("policy ", index, ": name is NULL"));
    return SLUICE_EINVAL;
  }
  const std::string_view name(full.name, strnlen(full.name, kMaxNameBytes + 1));
  if (name.empty() || name.size() > kMaxNameBytes) {
    SetError(err, errlen, absl::StrCat("policy ", index, ": name must be 1 to 255 bytes"));
    return SLUICE_EINVAL;
  }
  for (const char ch : name) {
    if (ch < 0x20 || ch > 0x7e) {
      SetError(err, errlen,
               absl::StrCat("policy ", index,
                            ": name must be printable ASCII (it appears in "
                            "RateLimit headers)"));
      return SLUICE_EINVAL;
    }
  }
  if (full.count == 0 || full.period_ns <= 0) {
    SetError(
        err, errlen,
        absl::StrCat("policy '", std::string(name), "': count and period_ns must be positive"));
    return SLUICE_EINVAL;
  }
  into->name = std::string(name);
  into->rate = Rate{full.count, nanoseconds{full.period_ns}};
  into->burst = full.burst;
  if (full.key_space != nullptr) {
    const std::string_view space(full.key_space, strnlen(full.key_space, kMaxNameBytes + 1));
    const bool printable =
        std::all_of(space.begin(), space.end(), [](char ch) { return ch >= 0x20 && ch <= 0x7e; });
    if (space.empty() || space.size() > kMaxNameBytes || !printable) {
      SetError(err, errlen,
               absl::StrCat("policy '", std::string(name),
                            "': key_space must be 1 to 255 printable ASCII bytes"));
      return SLUICE_EINVAL;
    }
    into->key_space = std::string(space);
  }
  return SLUICE_OK;
}

}  // namespace
}  // namespace sluice::c_api

using namespace sluice::c_api;  // NOLINT(google-build-using-namespace): this file's own helpers
using sluice::PolicyId;
using std::chrono::nanoseconds;

extern "C" {

void sluice_policy_init(sluice_policy* p, size_t size) noexcept {
  if (p == nullptr || size < sizeof(p->size)) return;
  std::memset(static_cast<void*>(p), 0, size);
  sluice_policy defaults;
  std::memset(&defaults, 0, sizeof defaults);
  defaults.size = size;
  defaults.burst = 1;
  std::memcpy(static_cast<void*>(p), &defaults, std::min(size, sizeof defaults));
}

int sluice_rate_parse(const char* text, size_t len, uint64_t* count, int64_t* period_ns, char* err,
                      size_t errlen) noexcept {
  if ((text == nullptr && len != 0) || count == nullptr || period_ns == nullptr) {
    return SLUICE_EINVAL;
  }
  try {
    auto rate = sluice::Rate::Parse(std::string_view(text, len));
    if (!rate.ok()) return FromStatus(rate.status(), err, errlen);
    *count = rate->count;
    *period_ns = rate->period.count();
    return SLUICE_OK;
  } catch (...) {
    SetError(err, errlen, "out of memory");
    return SLUICE_ENOMEM;
  }
}

int sluice_limiter_create(sluice_table* t, const sluice_policy* policies, size_t n,
                          sluice_limiter** out, char* err, size_t errlen) noexcept {
  if (out == nullptr) return SLUICE_EINVAL;
  *out = nullptr;
  if (t == nullptr || (n != 0 && policies == nullptr)) {
    SetError(err, errlen, "table and policies must not be NULL");
    return SLUICE_EINVAL;
  }
  if (n == 0) {
    SetError(err, errlen, "at least one policy is needed");
    return SLUICE_EINVAL;
  }
  if (n > std::numeric_limits<std::uint32_t>::max()) {
    SetError(err, errlen, "too many policies");
    return SLUICE_EINVAL;
  }
  // The array's stride is the size its elements were made with (all the same).
  const std::size_t stride = policies[0].size;
  if (stride < sizeof(policies[0].size)) {
    SetError(err, errlen, "sluice_policy.size is too small: use sluice_policy_init");
    return SLUICE_EINVAL;
  }
  try {
    std::vector<sluice::PolicyConfig> configs(n);
    const auto* base = reinterpret_cast<const unsigned char*>(policies);
    for (std::size_t i = 0; i < n; ++i) {
      const auto* p = reinterpret_cast<const sluice_policy*>(base + i * stride);
      if (p->size != stride) {
        SetError(err, errlen,
                 absl::StrCat("policy ", i,
                              ": size differs from policy 0's (one array, one "
                              "sluice_policy_init size)"));
        return SLUICE_EINVAL;
      }
      if (const int rc = ReadPolicy(p, i, &configs[i], err, errlen); rc != 0) return rc;
    }
    auto limiter = sluice::Limiter::Over(t->table, std::move(configs));
    if (!limiter.ok()) return FromStatus(limiter.status(), err, errlen);
    auto handle = std::make_unique<sluice_limiter>();
    handle->policy_count = static_cast<std::uint32_t>((*limiter)->policy_count());
    handle->limiter = *std::move(limiter);
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

void sluice_limiter_destroy(sluice_limiter* l) noexcept { delete l; }

int sluice_limiter_find(const sluice_limiter* l, const char* name, size_t len,
                        uint32_t* index) noexcept {
  if (l == nullptr || index == nullptr || (name == nullptr && len != 0)) return SLUICE_EINVAL;
  const auto id = l->limiter->FindPolicy(std::string_view(name, len));
  if (!id.has_value()) return SLUICE_ENOPOLICY;
  *index = id->index;
  return SLUICE_OK;
}

uint32_t sluice_limiter_policy_count(const sluice_limiter* l) noexcept {
  return l == nullptr ? 0 : l->policy_count;
}

int sluice_check(sluice_limiter* l, uint32_t policy, const void* key, size_t key_len,
                 int64_t now_ns, uint64_t cost, sluice_decision* out) noexcept {
  if (l == nullptr || out == nullptr || (key == nullptr && key_len != 0)) [[unlikely]] {
    return SLUICE_EINVAL;
  }
  if (policy >= l->policy_count) [[unlikely]] {
    return SLUICE_ENOPOLICY;
  }
  const sluice::Decision d =
      l->limiter->Check(PolicyId{policy}, KeyOf(key, key_len), nanoseconds{now_ns}, cost);
  *out = ToC(d);
  return d.allowed ? 1 : 0;
}

int sluice_check_all(sluice_limiter* l, const sluice_request* checks, size_t n, int64_t now_ns,
                     sluice_decision* out, sluice_multi_decision* result) noexcept {
  if (result == nullptr) [[unlikely]] {
    return SLUICE_EINVAL;
  }
  if (const int rc = CheckRequests(l, checks, n, out); rc != 0) [[unlikely]] {
    return rc;
  }
  // The rule of Limiter::CheckAll, over the C structs without copying them.
  sluice::Limiter& lim = *l->limiter;
  sluice::StateTable& table = lim.table();
  result->allowed = 1;
  result->reserved = 0;
  result->reported = SLUICE_NONE;
  result->decided = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const sluice_request& c = checks[i];
    const sluice::Policy& p = lim.policy(PolicyId{c.policy});
    const std::uint64_t hash = lim.HashKey(PolicyId{c.policy}, KeyOf(c.key, c.key_len));
    out[i] = ToC(table.Check(hash, p.params(), nanoseconds{now_ns}, c.cost));
    result->decided = i + 1;
    if (out[i].allowed == 0 && (c.flags & SLUICE_REQUEST_SHADOW) == 0) {
      // Give back what the earlier checks took: the request consumes nothing anywhere.
      for (std::size_t j = 0; j < i; ++j) {
        if (out[j].allowed == 0) continue;
        const sluice_request& e = checks[j];
        lim.Refund(PolicyId{e.policy}, KeyOf(e.key, e.key_len), e.cost, FromC(out[j]),
                   nanoseconds{now_ns}, nanoseconds{now_ns});
      }
      result->allowed = 0;
      result->reported = i;
      return 0;
    }
    if (result->reported == SLUICE_NONE || MoreRestrictive(out[i], out[result->reported])) {
      result->reported = i;
    }
  }
  return 1;
}

int sluice_check_multi(const sluice_limit_check* checks, size_t n, int64_t now_ns,
                       sluice_decision* out, sluice_multi_decision* result) noexcept {
  if (result == nullptr || (n != 0 && (checks == nullptr || out == nullptr))) [[unlikely]] {
    return SLUICE_EINVAL;
  }
  if (n > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) [[unlikely]] {
    return SLUICE_EINVAL;
  }
  for (std::size_t i = 0; i < n; ++i) {  // every check valid before any is decided
    const sluice_limit_check& c = checks[i];
    if (c.limiter == nullptr || (c.key == nullptr && c.key_len != 0)) return SLUICE_EINVAL;
    if (c.policy >= c.limiter->policy_count) return SLUICE_ENOPOLICY;
  }
  const nanoseconds now{now_ns};
  result->allowed = 1;
  result->reserved = 0;
  result->reported = SLUICE_NONE;
  result->decided = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const sluice_limit_check& c = checks[i];
    out[i] =
        ToC(c.limiter->limiter->Check(PolicyId{c.policy}, KeyOf(c.key, c.key_len), now, c.cost));
    result->decided = i + 1;
    if (out[i].allowed == 0 && (c.flags & SLUICE_REQUEST_SHADOW) == 0) {
      // Refund what the earlier checks took, at the deciding time: the exact refund of
      // engine/src/table_refund.cc, whatever table each check's limiter decides on.
      for (std::size_t j = 0; j < i; ++j) {
        if (out[j].allowed == 0) continue;
        const sluice_limit_check& e = checks[j];
        e.limiter->limiter->Refund(PolicyId{e.policy}, KeyOf(e.key, e.key_len), e.cost,
                                   FromC(out[j]), now, now);
      }
      result->allowed = 0;
      result->reported = i;
      return 0;
    }
    if (result->reported == SLUICE_NONE || MoreRestrictive(out[i], out[result->reported])) {
      result->reported = i;
    }
  }
  return 1;
}

int sluice_refund(sluice_limiter* l, uint32_t policy, const void* key, size_t key_len,
                  uint64_t cost, const sluice_decision* admitted, int64_t decided_ns,
                  int64_t now_ns) noexcept {
  if (l == nullptr || admitted == nullptr || (key == nullptr && key_len != 0)) [[unlikely]] {
    return SLUICE_EINVAL;
  }
  if (policy >= l->policy_count) [[unlikely]] {
    return SLUICE_ENOPOLICY;
  }
  l->limiter->Refund(PolicyId{policy}, KeyOf(key, key_len), cost, FromC(*admitted),
                     nanoseconds{decided_ns}, nanoseconds{now_ns});
  return SLUICE_OK;
}

}  // extern "C"
