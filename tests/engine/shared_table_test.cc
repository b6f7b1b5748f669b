// The state table over memory it is handed: the header an attacher checks, offsets only (one
// table mapped at two addresses), the seed and counters in shared memory, process-unique
// nonces, and stale PENDING slots reclaimed.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "internal/atomic_slot.h"
#include "internal/state_table_test_peer.h"
#include "internal/table_layout.h"
#include "sluice/limiter.h"
#include "sluice/state_table.h"

namespace sluice {
namespace {

using internal::StateTableTestPeer;
using internal::TableHeader;
using std::chrono::nanoseconds;

constexpr std::int64_t kSecond = 1'000'000'000;
const HashSeed kSeed{{1, 2, 3, 4}};

// Page-aligned anonymous memory, unmapped at the end of the test.
struct Memory {
  explicit Memory(std::size_t n, int flags = MAP_PRIVATE) : bytes(n) {
    data = mmap(nullptr, n, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(data, MAP_FAILED);
  }
  ~Memory() { munmap(data, bytes); }
  void* data;
  std::size_t bytes;
};

TableOptions Options(std::size_t capacity, WhenFull when_full = WhenFull::kEvict) {
  TableOptions o;
  o.capacity = capacity;
  o.when_full = when_full;
  o.seed = kSeed;
  return o;
}

std::unique_ptr<Limiter> LimiterOver(std::shared_ptr<StateTable> table) {
  auto l = Limiter::Over(std::move(table), {{"p", Rate{10, std::chrono::seconds(1)}, 3}});
  EXPECT_TRUE(l.ok()) << l.status();
  return *std::move(l);
}

TEST(SharedTableTest, SizesAreHeaderPlusSixteenBytesPerKey) {
  EXPECT_EQ(StateTable::BytesFor(1), 4096u + 256u * 16u);
  EXPECT_EQ(StateTable::BytesFor(0), 0u);
  EXPECT_EQ(StateTable::CapacityFor(StateTable::BytesFor(1 << 16)), 1u << 16);
  EXPECT_EQ(StateTable::CapacityFor(StateTable::BytesFor(1 << 16) - 1), 1u << 15);
  EXPECT_EQ(StateTable::CapacityFor(4096 + 256 * 16 - 1), 0u);
}

TEST(SharedTableTest, FormatFillsTheMemoryOrSaysItIsTooSmall) {
  Memory m(1 << 20);
  auto fill = StateTable::Format(m.data, m.bytes, Options(0));
  ASSERT_TRUE(fill.ok()) << fill.status();
  EXPECT_EQ((*fill)->capacity(), (1u << 20) / 16 / 2);  // 1 MiB minus the header: 32k keys
  EXPECT_TRUE((*fill)->shared());
  auto big = StateTable::Format(m.data, m.bytes, Options(1 << 20));
  ASSERT_FALSE(big.ok());
  EXPECT_TRUE(absl::IsOutOfRange(big.status()));
  EXPECT_NE(big.status().message().find("needs"), std::string_view::npos) << big.status();
  auto tiny = StateTable::Format(m.data, 1000, Options(0));
  EXPECT_TRUE(absl::IsOutOfRange(tiny.status())) << tiny.status();
  auto misaligned = StateTable::Format(static_cast<char*>(m.data) + 8, m.bytes - 64, Options(256));
  EXPECT_TRUE(absl::IsInvalidArgument(misaligned.status())) << misaligned.status();
}

// One table mapped at two addresses (a memfd mapped twice): the memory holds offsets only.
TEST(SharedTableTest, TwoMappingsAtDifferentAddressesAreOneTable) {
  const int fd = memfd_create("sluice-test", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  const std::size_t bytes = StateTable::BytesFor(4096);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(bytes)), 0);
  void* a = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  void* b = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  ASSERT_NE(a, MAP_FAILED);
  ASSERT_NE(b, MAP_FAILED);
  ASSERT_NE(a, b);
  {
    auto formatted = StateTable::Format(a, bytes, Options(4096));
    ASSERT_TRUE(formatted.ok()) << formatted.status();
    auto attached = StateTable::Attach(b, bytes);
    ASSERT_TRUE(attached.ok()) << attached.status();
    EXPECT_EQ((*attached)->seed(), kSeed) << "the seed comes from the header";
    EXPECT_EQ((*attached)->capacity(), 4096u);
    auto la = LimiterOver(std::shared_ptr<StateTable>(*std::move(formatted)));
    auto lb = LimiterOver(std::shared_ptr<StateTable>(*std::move(attached)));
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE((i % 2 ? la : lb)->Check(PolicyId{0}, "k", nanoseconds(kSecond)).allowed);
    }
    EXPECT_FALSE(la->Check(PolicyId{0}, "k", nanoseconds(kSecond)).allowed);
    EXPECT_FALSE(lb->Check(PolicyId{0}, "k", nanoseconds(kSecond)).allowed);
    // Counters live in the header: both handles see every install.
    EXPECT_EQ(la->Stats().installs, 1u);
    EXPECT_EQ(lb->Stats().installs, 1u);
  }
  munmap(a, bytes);
  munmap(b, bytes);
}

TEST(SharedTableTest, AttachRefusesWhatIsNotThisLayout) {
  Memory m(StateTable::BytesFor(1024));
  auto* header = static_cast<TableHeader*>(m.data);
  const auto attach = [&](std::size_t bytes) { return StateTable::Attach(m.data, bytes); };

  // Zeroed memory: no table there.
  EXPECT_TRUE(absl::IsDataLoss(attach(m.bytes).status())) << attach(m.bytes).status();
  ASSERT_TRUE(StateTable::Format(m.data, m.bytes, Options(1024)).ok());
  ASSERT_TRUE(attach(m.bytes).ok());

  // Too small for the header, or for the table it describes.
  auto short_memory = attach(m.bytes - 64);
  EXPECT_TRUE(absl::IsDataLoss(short_memory.status()));
  EXPECT_NE(short_memory.status().message().find("only"), std::string_view::npos)
      << short_memory.status();
  EXPECT_TRUE(absl::IsDataLoss(attach(100).status()));

  header->magic[0] = 'X';
  auto magic = attach(m.bytes);
  EXPECT_TRUE(absl::IsDataLoss(magic.status()));
  EXPECT_NE(magic.status().message().find("magic"), std::string_view::npos) << magic.status();
  header->magic[0] = 'S';

  header->layout_version = 2;
  auto version = attach(m.bytes);
  EXPECT_TRUE(absl::IsDataLoss(version.status()));
  EXPECT_NE(version.status().message().find("layout version 2"), std::string_view::npos)
      << version.status();
  header->layout_version = internal::kLayoutVersion;

  header->slot_bytes = 32;
  EXPECT_TRUE(absl::IsDataLoss(attach(m.bytes).status()));
  header->slot_bytes = 16;
  header->bucket_count = 100;  // not a power of two
  EXPECT_TRUE(absl::IsDataLoss(attach(m.bytes).status()));
  header->bucket_count = 256;

  header->state.store(internal::kStateInitializing);
  auto busy = attach(m.bytes);
  EXPECT_TRUE(absl::IsUnavailable(busy.status())) << busy.status();
  header->state.store(internal::kStateReady);

  header->boot_id[0] ^= 0xff;
  auto stale = attach(m.bytes);
  EXPECT_TRUE(absl::IsFailedPrecondition(stale.status())) << stale.status();
  header->boot_id[0] ^= 0xff;

  EXPECT_TRUE(attach(m.bytes).ok()) << "every field restored: attaches again";
  EXPECT_TRUE(absl::IsInvalidArgument(
      StateTable::Attach(static_cast<char*>(m.data) + 16, m.bytes - 64).status()));
}

// Fix 1: forked processes draw install nonces from the table's header, not from a counter
// each inherited: no two of them, at the same `now`, are equal.
TEST(SharedTableTest, NoncesAreUniqueAcrossForkedProcesses) {
  auto table = StateTable::CreateShared(Options(1024));
  ASSERT_TRUE(table.ok()) << table.status();
  constexpr int kChildren = 3;
  constexpr int kEach = 2000;
  Memory out(sizeof(std::int64_t) * kEach * (kChildren + 1), MAP_SHARED);
  auto* nonces = static_cast<std::int64_t*>(out.data);
  const std::int64_t now = 5 * kSecond;
  std::vector<pid_t> children;
  for (int c = 0; c < kChildren; ++c) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int i = 0; i < kEach; ++i) {
        nonces[(c + 1) * kEach + i] = StateTableTestPeer::NextNonce(**table, now);
      }
      _exit(0);
    }
    children.push_back(pid);
  }
  for (int i = 0; i < kEach; ++i) nonces[i] = StateTableTestPeer::NextNonce(**table, now);
  for (const pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  const std::set<std::int64_t> distinct(nonces, nonces + kEach * (kChildren + 1));
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kEach * (kChildren + 1)));
  for (const std::int64_t n : distinct) {
    ASSERT_GE(n, 0);
    ASSERT_LT(n, std::int64_t{1} << 62);
  }
}

// Fix 2: a PENDING claim whose installer died is taken back once it is older than
// kStalePending, whatever when_full says: here `deny`, where nothing else would free it.
TEST(SharedTableTest, StalePendingOfADeadInstallerIsReclaimed) {
  auto made = StateTable::Create(256, WhenFull::kDeny, kSeed);
  ASSERT_TRUE(made.ok());
  std::shared_ptr<StateTable> table = *std::move(made);
  auto limiter = LimiterOver(table);
  const std::uint64_t hash = limiter->HashKey(PolicyId{0}, "victim");
  const std::size_t bucket = hash & (StateTableTestPeer::BucketCount(*table) - 1);
  // Four dead installers of four other keys, each killed right after its PENDING claim.
  const std::int64_t t0 = 100 * kSecond;
  for (std::size_t i = 0; i < StateTable::kSlotsPerBucket; ++i) {
    const std::uint64_t other_tag = (std::uint64_t{1} << 63) | (1000 + i);
    internal::Slot& slot = StateTableTestPeer::SlotAt(*table, bucket, i);
    slot.word = internal::Pack(other_tag, StateTableTestPeer::NextNonce(*table, t0));
  }
  const std::int64_t stale_at = t0 + StateTable::kStalePending.count() + (1 << 20);
  EXPECT_FALSE(limiter->Check(PolicyId{0}, "victim", nanoseconds(t0 + kSecond / 2)).allowed)
      << "young claims are respected (their installers may only be slow)";
  EXPECT_EQ(table->Stats().full_denied, 1u);
  EXPECT_TRUE(limiter->Check(PolicyId{0}, "victim", nanoseconds(stale_at)).allowed);
  EXPECT_EQ(table->Stats().stale_pending, 1u);
  // The other three are reclaimed by the next keys of that bucket as they come.
  EXPECT_TRUE(limiter->Check(PolicyId{0}, "victim", nanoseconds(stale_at)).allowed)
      << "the reclaimed slot now holds the key's state";
  EXPECT_EQ(table->Stats().installs, 1u);
}

// A nonce written under a later clock (another process ahead, or time going backwards) is
// never stale: only age by our own clock counts.
TEST(SharedTableTest, PendingFromTheFutureIsNotStale) {
  auto made = StateTable::Create(256, WhenFull::kDeny, kSeed);
  ASSERT_TRUE(made.ok());
  std::shared_ptr<StateTable> table = *std::move(made);
  auto limiter = LimiterOver(table);
  const std::uint64_t hash = limiter->HashKey(PolicyId{0}, "k");
  const std::size_t bucket = hash & (StateTableTestPeer::BucketCount(*table) - 1);
  const std::int64_t later = 500 * kSecond;
  for (std::size_t i = 0; i < StateTable::kSlotsPerBucket; ++i) {
    StateTableTestPeer::SlotAt(*table, bucket, i).word = internal::Pack(
        (std::uint64_t{1} << 63) | (77 + i), StateTableTestPeer::NextNonce(*table, later));
  }
  EXPECT_FALSE(limiter->Check(PolicyId{0}, "k", nanoseconds(10 * kSecond)).allowed);
  EXPECT_EQ(table->Stats().stale_pending, 0u);
}

}  // namespace
}  // namespace sluice
