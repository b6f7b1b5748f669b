#include "bench_support.h"

#include <pthread.h>
#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>

namespace sluice::bench {
namespace {

// A fixed seed: placement, and so every figure, is the same from run to run.
constexpr HashSeed kSeed{
    {0x0123456789abcdef, 0xfedcba9876543210, 0x0f1e2d3c4b5a6978, 0x8796a5b4c3d2e1f0}};

[[noreturn]] void Die(const char* what, const std::string& detail) {
  std::fprintf(stderr, "sluice-bench: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

GcraParams HotParams() {
  auto params = GcraParams::Make(Rate{kHotRatePerSecond, std::chrono::seconds{1}}, kHotBurst);
  if (!params.ok()) Die("hot params", params.status().ToString());
  return *params;
}

std::unique_ptr<Limiter> MakeLimiter(std::size_t capacity, const Rate& rate, std::uint64_t burst) {
  LimiterOptions options;
  options.capacity = capacity;
  options.when_full = WhenFull::kEvict;
  options.policies.push_back(PolicyConfig{"p", rate, burst});
  options.seed = kSeed;
  auto limiter = Limiter::Create(std::move(options));
  if (!limiter.ok()) Die("Limiter::Create", limiter.status().ToString());
  return *std::move(limiter);
}

Rate ThreadedRandomRate() {
  return Rate{1, nanoseconds{static_cast<std::int64_t>(kThreadedRandomKeys) * kRandomStepNs}};
}

std::size_t ThreadedStart(int thread_index, int threads, std::size_t length) {
  return length / static_cast<std::size_t>(threads) * static_cast<std::size_t>(thread_index);
}

const RandomKeys& RandomKeysFor(std::size_t keys) {
  static std::map<std::size_t, std::unique_ptr<RandomKeys>> cache;
  std::unique_ptr<RandomKeys>& slot = cache[keys];
  if (slot) return *slot;
  if (!std::has_single_bit(keys)) Die("RandomKeysFor", "key count must be a power of two");
  slot = std::make_unique<RandomKeys>();
  slot->keys = keys;
  const std::size_t length = std::max(keys, std::size_t{1} << 16);
  const int shift = 64 - std::countr_zero(keys);  // top log2(keys) bits of the product
  slot->sequence.resize(length);
  std::uint64_t x = 0x2545f4914f6cdd1d ^ keys;  // xorshift64*: never 0
  for (std::uint64_t& key : slot->sequence) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    const std::uint64_t index = shift == 64 ? 0 : (x * 0x2545f4914f6cdd1d) >> shift;
    key = KeyValue(index);
  }
  return *slot;
}

ScopedPin::ScopedPin(int thread_index) noexcept {
  if (pthread_getaffinity_np(pthread_self(), sizeof saved_, &saved_) != 0) return;
  const int allowed = CPU_COUNT(&saved_);
  if (allowed < 2) return;  // nothing to choose
  int wanted = thread_index % allowed;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &saved_) || wanted-- > 0) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pinned_ = pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
    return;
  }
}

ScopedPin::~ScopedPin() {
  if (pinned_) (void)pthread_setaffinity_np(pthread_self(), sizeof saved_, &saved_);
}

HugeBuffer::HugeBuffer(std::size_t bytes) : data_(nullptr), bytes_(bytes) {
  data_ = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data_ == MAP_FAILED) Die("mmap", "cannot map the floor buffer");
  (void)madvise(data_, bytes, MADV_HUGEPAGE);  // advisory, as in StateTable::Create
  std::memset(data_, 0, bytes);
}

HugeBuffer::~HugeBuffer() { munmap(data_, bytes_); }

}  // namespace sluice::bench
