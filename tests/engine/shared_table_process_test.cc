// One table shared by several processes, through the C ABI the embedders use: exact
// conservation across 4 forked processes, kill -9 of processes mid-decision leaving nothing
// stuck, a file table opened by unrelated handles, caller memory formatted once and attached
// by a child. Processes are real (fork); results come back through a MAP_SHARED page.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "internal/atomic_slot.h"
#include "internal/state_table_test_peer.h"
#include "sluice/c.h"
#include "sluice/limiter.h"
#include "sluice/state_table.h"

namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kSecond = 1'000 * kMs;

// A page every process of a test maps (made before fork).
template <typename T>
struct SharedPage {
  SharedPage() {
    void* p = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(p, MAP_FAILED);
    value = new (p) T();
  }
  ~SharedPage() { munmap(value, sizeof(T)); }
  T* value;
};

sluice_policy Policy(const char* name, std::uint64_t count, std::int64_t period_ns,
                     std::uint64_t burst) {
  sluice_policy p;
  sluice_policy_init(&p, sizeof p);
  p.name = name;
  p.count = count;
  p.period_ns = period_ns;
  p.burst = burst;
  return p;
}

// Waits for every child; true when all exited 0.
bool Reap(const std::vector<pid_t>& children) {
  bool ok = true;
  for (const pid_t pid : children) {
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ok = false;
    }
  }
  return ok;
}

struct ConservationBoard {
  static constexpr int kProcesses = 4;
  std::atomic<int> arrived{0};  // barrier: phase p ends when it reaches 4 * (p + 1)
  std::atomic<long> admitted[kProcesses] = {};
  std::atomic<int> failed{0};
};

// Four processes hammer 8 keys through one anonymous shared table, in 20 phases of one `now`
// each separated by a barrier. GCRA says exactly how many requests each key admits: its burst
// of 5 in phase 0, then 3 per phase (phases are 3 emission intervals apart); the processes
// together must admit exactly that, neither more (no double spend across processes) nor less.
// Every process alternates single checks and batches.
TEST(SharedTableProcessTest, FourProcessesAdmitExactlyTheRulesCount) {
  sluice_table_options o;
  sluice_table_options_init(&o, sizeof o);
  o.capacity = 4096;
  sluice_table* table = nullptr;
  char err[128] = "";
  ASSERT_EQ(sluice_table_create_shared(&o, &table, err, sizeof err), SLUICE_OK) << err;
  // Per-process limiters are made after fork (each its own, as an embedder would); one made
  // here in the parent checks the result.
  const sluice_policy policy = Policy("api", 1000, kSecond, 5);  // T = 1 ms, burst 5
  constexpr int kKeys = 8;
  constexpr int kPhases = 20;
  constexpr int kTriesPerKey = 12;  // per process and phase: far more than the key can take
  const std::int64_t t0 = 50 * kSecond;
  SharedPage<ConservationBoard> board;

  std::vector<pid_t> children;
  for (int c = 0; c < ConservationBoard::kProcesses; ++c) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      sluice_limiter* l = nullptr;
      if (sluice_limiter_create(table, &policy, 1, &l, nullptr, 0) != SLUICE_OK) _exit(2);
      std::string keys[kKeys];
      sluice_request batch[kKeys];
      for (int k = 0; k < kKeys; ++k) {
        keys[k] = "client-" + std::to_string(k);
        batch[k] = {0, 0, keys[k].data(), keys[k].size(), 1};
      }
      long admitted = 0;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      for (int phase = 0; phase < kPhases; ++phase) {
        const std::int64_t now = t0 + phase * 3 * kMs;
        for (int t = 0; t < kTriesPerKey; ++t) {
          if ((t + c) % 2 == 0) {
            sluice_decision out[kKeys];
            const int n = sluice_check_batch(l, batch, kKeys, now, out);
            if (n < 0) _exit(3);
            admitted += n;
          } else {
            for (int k = 0; k < kKeys; ++k) {
              sluice_decision d;
              const int rc = sluice_check(l, 0, keys[k].data(), keys[k].size(), now, 1, &d);
              if (rc < 0) _exit(3);
              admitted += rc;
            }
          }
        }
        // Barrier. Relaxed would do for the count itself; acq_rel orders each phase's
        // decisions before the next phase's in every process (they are CASes anyway).
        board.value->arrived.fetch_add(1, std::memory_order_acq_rel);
        while (board.value->arrived.load(std::memory_order_acquire) <
               ConservationBoard::kProcesses * (phase + 1)) {
          if (std::chrono::steady_clock::now() > deadline) _exit(4);  // a sibling died
          std::this_thread::yield();
        }
      }
      board.value->admitted[c].store(admitted, std::memory_order_relaxed);
      sluice_limiter_destroy(l);
      sluice_table_close(table);
      _exit(0);
    }
    children.push_back(pid);
  }
  ASSERT_TRUE(Reap(children));
  long total = 0;
  for (auto& a : board.value->admitted) total += a.load(std::memory_order_relaxed);
  EXPECT_EQ(total, kKeys * (5 + 3 * (kPhases - 1)));
  // Every key ends exactly full: nothing left at the last `now`, and a fresh table's worth
  // of state agrees with the count (TAT = last now + 5 T).
  sluice_limiter* l = nullptr;
  ASSERT_EQ(sluice_limiter_create(table, &policy, 1, &l, nullptr, 0), SLUICE_OK);
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = "client-" + std::to_string(k);
    sluice_decision d;
    const std::int64_t last = t0 + (kPhases - 1) * 3 * kMs;
    EXPECT_EQ(sluice_check(l, 0, key.data(), key.size(), last, 0, &d), 1);
    EXPECT_EQ(d.remaining, 0) << key;
    EXPECT_EQ(d.reset_after_ns, 5 * kMs) << key;
  }
  sluice_table_stats s;
  ASSERT_EQ(sluice_table_get_stats(table, &s, sizeof s), SLUICE_OK);
  EXPECT_EQ(s.installs, static_cast<std::uint64_t>(kKeys)) << "one copy of each key";
  EXPECT_EQ(s.shared, 1u);
  sluice_limiter_destroy(l);
  sluice_table_close(table);
}

struct KillBoard {
  std::atomic<long> ops{0};
};

// Children decide on a small table of short-lived keys as fast as they can (installs, reuse,
// full buckets under when_full=deny) and are killed with SIGKILL at arbitrary points, 40
// times. Nothing may be left stuck: afterwards, once any abandoned PENDING is stale, every
// one of the table's 256 slots takes a new key.
TEST(SharedTableProcessTest, KillNineMidDecisionLeavesNothingStuck) {
  sluice::TableOptions options;
  options.capacity = 256;
  options.when_full = sluice::WhenFull::kDeny;
  options.seed = sluice::HashSeed{{9, 8, 7, 6}};
  auto made = sluice::StateTable::CreateShared(options);
  ASSERT_TRUE(made.ok()) << made.status();
  std::shared_ptr<sluice::StateTable> table = *std::move(made);
  const std::vector<sluice::PolicyConfig> policies = {
      {"short", sluice::Rate{100'000, std::chrono::seconds(1)}, 2}};  // T = 10 us
  SharedPage<KillBoard> board;
  std::mt19937_64 rng(2024);
  const std::int64_t t0 = 10 * kSecond;
  std::int64_t max_now = t0;
  constexpr int kRounds = 40;
  for (int round = 0; round < kRounds; ++round) {
    const std::int64_t base = t0 + round * kSecond / 10;
    board.value->ops.store(0, std::memory_order_relaxed);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto l = sluice::Limiter::Over(table, policies);
      if (!l.ok()) _exit(2);
      std::mt19937_64 r(static_cast<std::uint64_t>(round) * 7919);
      for (long i = 0;; ++i) {
        // Keys of this round only: a PENDING a kill leaves is never committed by a later
        // request of its key, so only the stale rule can free it.
        const std::string key = "r" + std::to_string(round) + "-" + std::to_string(r() % 2000);
        const std::chrono::nanoseconds now{base + i * 200};  // 5 decisions per T
        (void)(*l)->Check(sluice::PolicyId{0}, key, now);
        // Relaxed: a progress count the parent polls; no data is published through it.
        board.value->ops.store(i, std::memory_order_relaxed);
      }
    }
    // Kill after a random amount of progress, polled (never a timing assumption).
    const long target = static_cast<long>(1000 + rng() % 20000);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (board.value->ops.load(std::memory_order_relaxed) < target &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    max_now = std::max(max_now, base + board.value->ops.load(std::memory_order_relaxed) * 200);
  }
  // What the kills left: every slot is empty, committed or a PENDING claim (never torn:
  // each change is one CAS).
  using Peer = sluice::internal::StateTableTestPeer;
  int pending = 0;
  for (std::size_t b = 0; b < Peer::BucketCount(*table); ++b) {
    for (std::size_t i = 0; i < sluice::StateTable::kSlotsPerBucket; ++i) {
      const auto w = Peer::SlotAt(*table, b, i).word;
      if ((sluice::internal::TagOf(w) >> 63) != 0) ++pending;
    }
  }
  std::printf("kill -9 x%d: %d PENDING slots left now, %llu stale ones reclaimed, %llu installs\n",
              kRounds, pending, static_cast<unsigned long long>(table->Stats().stale_pending),
              static_cast<unsigned long long>(table->Stats().installs));
  // Four new keys per bucket, found by their hashes, each admitted under when_full=deny.
  auto l = sluice::Limiter::Over(table, policies);
  ASSERT_TRUE(l.ok());
  const std::int64_t later = max_now + 2 * kSecond;
  const std::size_t buckets = Peer::BucketCount(*table);
  std::vector<int> filled(buckets, 0);
  std::size_t done = 0;
  const std::uint64_t denied_before = table->Stats().full_denied;
  const std::uint64_t stale_before = table->Stats().stale_pending;
  for (long i = 0; done < buckets; ++i) {
    ASSERT_LT(i, 1'000'000) << "could not find keys for every bucket";
    const std::string key = "fresh-" + std::to_string(i);
    const std::size_t b = (*l)->HashKey(sluice::PolicyId{0}, key) & (buckets - 1);
    if (filled[b] == 4) continue;
    ASSERT_TRUE((*l)->Check(sluice::PolicyId{0}, key, std::chrono::nanoseconds(later)).allowed)
        << "bucket " << b << " slot " << filled[b] << " is stuck";
    if (++filled[b] == 4) ++done;
  }
  EXPECT_EQ(table->Stats().full_denied, denied_before);
  EXPECT_EQ(table->Stats().stale_pending - stale_before, static_cast<std::uint64_t>(pending))
      << "every PENDING the kills left was reclaimed as stale";
}

// A table in a file: two handles opened independently (as two unrelated processes would),
// one creating it; a child attaches by path too. A file from another boot is refused, or
// formatted afresh with SLUICE_OPEN_RESET_STALE.
TEST(SharedTableProcessTest, FileTableIsOneTableForEveryOpener) {
  const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  char path[256];
  std::snprintf(path, sizeof path, "%s/sluice-test-%d", dir, static_cast<int>(getpid()));
  unlink(path);
  sluice_table_options o;
  sluice_table_options_init(&o, sizeof o);
  o.capacity = 1024;
  char err[256] = "";
  sluice_table* missing = nullptr;
  EXPECT_EQ(sluice_table_open_file(path, 0, 0600, &o, &missing, err, sizeof err), SLUICE_ESYS);
  EXPECT_NE(std::string(err).find("No such file"), std::string::npos) << err;
  sluice_table* a = nullptr;
  ASSERT_EQ(sluice_table_open_file(path, SLUICE_OPEN_CREATE, 0600, &o, &a, err, sizeof err),
            SLUICE_OK)
      << err;
  sluice_table* again = nullptr;
  EXPECT_EQ(sluice_table_open_file(path, SLUICE_OPEN_CREATE | SLUICE_OPEN_EXCL, 0600, &o, &again,
                                   err, sizeof err),
            SLUICE_ESYS);
  o.capacity = 999999;  // ignored: an existing file is attached as it is
  sluice_table* b = nullptr;
  ASSERT_EQ(sluice_table_open_file(path, SLUICE_OPEN_CREATE, 0600, &o, &b, err, sizeof err),
            SLUICE_OK)
      << err;
  const sluice_policy policy = Policy("f", 1, kSecond, 2);
  sluice_limiter* la = nullptr;
  sluice_limiter* lb = nullptr;
  ASSERT_EQ(sluice_limiter_create(a, &policy, 1, &la, nullptr, 0), SLUICE_OK);
  ASSERT_EQ(sluice_limiter_create(b, &policy, 1, &lb, nullptr, 0), SLUICE_OK);
  sluice_decision d;
  EXPECT_EQ(sluice_check(la, 0, "x", 1, 7 * kSecond, 1, &d), 1);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sluice_table* c = nullptr;
    sluice_limiter* lc = nullptr;
    if (sluice_table_open_file(path, 0, 0, nullptr, &c, nullptr, 0) != SLUICE_OK) _exit(2);
    if (sluice_limiter_create(c, &policy, 1, &lc, nullptr, 0) != SLUICE_OK) _exit(3);
    sluice_decision cd;
    _exit(sluice_check(lc, 0, "x", 1, 7 * kSecond, 1, &cd) == 1 ? 0 : 4);
  }
  ASSERT_TRUE(Reap({pid}));
  EXPECT_EQ(sluice_check(lb, 0, "x", 1, 7 * kSecond, 1, &d), 0) << "the burst of 2 is spent";
  sluice_table_stats s;
  ASSERT_EQ(sluice_table_get_stats(b, &s, sizeof s), SLUICE_OK);
  EXPECT_EQ(s.capacity, 1024u);
  EXPECT_EQ(s.installs, 1u);
  sluice_limiter_destroy(la);
  sluice_limiter_destroy(lb);
  sluice_table_close(a);
  sluice_table_close(b);

  // Pretend the file survived a reboot: its boot id no longer matches.
  {
    FILE* f = std::fopen(path, "r+b");
    ASSERT_NE(f, nullptr);
    const long boot_offset = offsetof(sluice::internal::TableHeader, boot_id);
    std::fseek(f, boot_offset, SEEK_SET);
    const int byte = std::fgetc(f);
    std::fseek(f, boot_offset, SEEK_SET);
    std::fputc(byte ^ 0xff, f);
    std::fclose(f);
  }
  sluice_table* stale = nullptr;
  EXPECT_EQ(sluice_table_open_file(path, 0, 0, nullptr, &stale, err, sizeof err), SLUICE_ESTALE);
  EXPECT_NE(std::string(err).find("another boot"), std::string::npos) << err;
  o.capacity = 2048;
  ASSERT_EQ(sluice_table_open_file(path, SLUICE_OPEN_RESET_STALE, 0, &o, &stale, err, sizeof err),
            SLUICE_OK)
      << err;
  ASSERT_EQ(sluice_table_get_stats(stale, &s, sizeof s), SLUICE_OK);
  EXPECT_EQ(s.capacity, 2048u);
  EXPECT_EQ(s.installs, 0u) << "formatted afresh";
  sluice_table_close(stale);
  // Not a table at all.
  {
    FILE* f = std::fopen(path, "r+b");
    ASSERT_NE(f, nullptr);
    std::fputs("hello", f);
    std::fclose(f);
  }
  EXPECT_EQ(sluice_table_open_file(path, 0, 0, nullptr, &stale, err, sizeof err), SLUICE_ELAYOUT);
  unlink(path);
}

// What the nginx module does: the master formats a zone it was handed (here anonymous shared
// memory), workers attach to it; every error code of attach is a refusal that changes nothing.
TEST(SharedTableProcessTest, CallerMemoryFormattedOnceAttachedByAChild) {
  const std::size_t bytes = 1 << 20;
  void* zone = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(zone, MAP_FAILED);
  sluice_table* t = nullptr;
  char err[256] = "";
  EXPECT_EQ(sluice_table_attach(zone, bytes, &t, err, sizeof err), SLUICE_ELAYOUT) << err;
  EXPECT_EQ(t, nullptr);
  sluice_table_options o;
  sluice_table_options_init(&o, sizeof o);
  o.capacity = 0;  // as many keys as the zone holds
  ASSERT_EQ(sluice_table_format(zone, bytes, &o, &t, err, sizeof err), SLUICE_OK) << err;
  sluice_table_stats s;
  ASSERT_EQ(sluice_table_get_stats(t, &s, sizeof s), SLUICE_OK);
  EXPECT_EQ(s.capacity, sluice_table_capacity_for_bytes(bytes));
  EXPECT_EQ(s.memory_bytes, sluice_table_bytes(s.capacity));
  EXPECT_EQ(sluice_table_attach(zone, 4096, &t, err, sizeof err), SLUICE_ELAYOUT);
  EXPECT_EQ(t, nullptr);
  ASSERT_EQ(sluice_table_attach(zone, bytes, &t, err, sizeof err), SLUICE_OK) << err;
  const sluice_policy policy = Policy("zone", 10, kSecond, 1);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sluice_table* w = nullptr;
    sluice_limiter* l = nullptr;
    if (sluice_table_attach(zone, bytes, &w, nullptr, 0) != SLUICE_OK) _exit(2);
    if (sluice_limiter_create(w, &policy, 1, &l, nullptr, 0) != SLUICE_OK) _exit(3);
    sluice_decision d;
    _exit(sluice_check(l, 0, "ip", 2, kSecond, 1, &d) == 1 ? 0 : 4);
  }
  ASSERT_TRUE(Reap({pid}));
  sluice_limiter* l = nullptr;
  ASSERT_EQ(sluice_limiter_create(t, &policy, 1, &l, nullptr, 0), SLUICE_OK);
  sluice_decision d;
  EXPECT_EQ(sluice_check(l, 0, "ip", 2, kSecond, 1, &d), 0) << "the child's request counted";
  EXPECT_EQ(d.retry_after_ns, 100 * kMs);
  sluice_limiter_destroy(l);
  sluice_table_close(t);  // caller memory: never unmapped by the library
  EXPECT_EQ(static_cast<volatile char*>(zone)[0], 'S');
  munmap(zone, bytes);
}

}  // namespace
