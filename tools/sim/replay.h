// The replay of a log: every request decided by every chosen algorithm at every point of a
// sweep, in one pass. Streaming: memory grows with the keys (per key: its name, and per
// algorithm and point its state, its denials and its admitted count in the last period) and
// with the requests admitted within one period, never with the log's length.
//
// Requests may come out of time order by up to `window` (a log is written as requests finish,
// not as they start): they are held and decided in time order. One later than that is
// decided at the time of the last one decided (counted as late): a limiter cannot go back in
// time. With `spread`, the requests of each whole second are spaced evenly over it (a log with
// whole-second times otherwise puts them all at its start, a burst the traffic did not have).
//
// Each algorithm runs its own rule (Replayable: Decide on per-key state kept here, no table),
// so a key never loses state to another: this measures the limit, not a table's size.
#ifndef SLUICE_TOOLS_SIM_REPLAY_H_
#define SLUICE_TOOLS_SIM_REPLAY_H_

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <new>
#include <queue>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "algorithms/fixed_window.h"
#include "algorithms/gcra_limiter.h"
#include "algorithms/leaky_bucket.h"
#include "algorithms/sliding_log.h"
#include "algorithms/sliding_window_counter.h"
#include "algorithms/token_bucket.h"
#include "sim/key_store.h"
#include "sluice/rate.h"

namespace sluice::sim {

struct SweepPoint {
  Rate rate;
  std::uint64_t burst = 1;
  friend bool operator==(const SweepPoint&, const SweepPoint&) = default;
};

struct ReplayOptions {
  std::vector<std::string> algorithms;  // names (ResolveAlgorithms)
  std::vector<SweepPoint> points;       // at least one; every rate of the same period
  std::int64_t window_ns = 2'000'000'000;
  bool spread = false;
  std::size_t top = 10;  // keys by denials, per point
};

struct KeyDenials {
  std::string key;
  std::uint64_t denied = 0;
  std::uint64_t requests = 0;
};

struct PointResult {
  std::string algorithm;
  SweepPoint point;
  std::uint64_t requests = 0;
  std::uint64_t denied = 0;
  std::uint64_t clients = 0;         // keys
  std::uint64_t clients_denied = 0;  // keys denied at least once
  // The most cost admitted for one key in any window (t - period, t], minus rate.count.
  std::int64_t worst_overshoot = 0;
  std::vector<KeyDenials> top;  // by denials, most first (ties: the key seen first)
};

class Replay {
 public:
  ~Replay();
  Replay(const Replay&) = delete;
  Replay& operator=(const Replay&) = delete;
  // Errors: no algorithm or point, rates of different periods, an algorithm's own error for a
  // point (named with it).
  static absl::StatusOr<std::unique_ptr<Replay>> Create(ReplayOptions options);

  // One request. Not thread-safe. It is decided a few calls later (see kLookahead), or by
  // Finish(): what the accessors below say is complete after Finish() only.
  void Add(std::int64_t t_ns, std::string_view key, std::uint64_t cost);
  // Decides what is still held. Call once, after the last Add.
  void Finish();

  [[nodiscard]] std::vector<PointResult> Results() const;
  [[nodiscard]] std::uint64_t requests() const { return requests_; }
  [[nodiscard]] std::uint64_t late() const { return late_; }
  [[nodiscard]] std::uint64_t clients() const { return keys_->size(); }
  [[nodiscard]] std::int64_t first_ns() const { return first_ns_; }
  [[nodiscard]] std::int64_t last_ns() const { return last_ns_; }
  [[nodiscard]] const ReplayOptions& options() const { return options_; }

 private:
  struct Record {
    std::int64_t t;
    std::uint64_t cost;
    std::uint64_t seq;  // arrival order: ties in time keep it
    std::byte* key;     // the key's body in keys_
  };
  struct Later {
    bool operator()(const Record& a, const Record& b) const {
      return a.t != b.t ? a.t > b.t : a.seq > b.seq;
    }
  };
  template <algorithms::Replayable A>
  struct Group {
    static_assert(alignof(typename A::KeyState) <= KeyStore::kBodyAlign);
    std::vector<std::unique_ptr<A>> rules;  // per point
    std::vector<std::size_t> lanes;         // the lane of each rule
    std::size_t offset = 0;                 // of its KeyState[points] in a key's body
  };
  struct Lane {
    std::uint64_t admitted = 0;
    std::uint64_t denied = 0;
    std::uint64_t most_in_period = 0;
  };

  explicit Replay(ReplayOptions options);
  void AddNow(std::int64_t t_ns, std::string_view key, std::uint64_t hash, std::uint64_t cost);
  void InitKey(std::byte* body);
  // The earliest held record if it is at or before `edge`, released; false when none is.
  bool ReleaseEarliest(std::int64_t edge);
  void Release(const Record& r);  // in time order: to the spread stage or decided
  void FlushSecond();
  void Decide(const Record& r);
  template <class G>
  void DecideGroup(G& group, const Record& r, std::uint64_t* admitted_mask);

  ReplayOptions options_;
  std::int64_t period_ns_ = 0;
  std::size_t lanes_count_ = 0;
  std::size_t mask_words_ = 0;
  std::tuple<Group<algorithms::GcraAlgorithm>, Group<algorithms::TokenBucket>,
             Group<algorithms::LeakyBucket>, Group<algorithms::FixedWindow>,
             Group<algorithms::SlidingWindowCounter>, Group<algorithms::SlidingLog>>
      groups_;
  std::vector<Lane> lanes_;
  std::vector<std::uint64_t> limits_;  // rate.count per lane

  // Keys: an id each, in the order first seen, and one record each (key_store.h) whose body
  // holds all a decision touches of its key, so that a log of many clients costs few cache
  // misses per line:
  //   [KeyHead][LaneKey x lanes][each group's KeyState x its points]
  struct KeyHead {
    std::uint64_t requests = 0;
  };
  struct LaneKey {
    std::uint64_t in_period = 0;  // admitted cost within the last period
    std::uint64_t denied = 0;
  };
  static constexpr std::size_t kLanesOffset = sizeof(KeyHead);
  static KeyHead& Head(std::byte* body) { return *std::launder(reinterpret_cast<KeyHead*>(body)); }
  static LaneKey* Lanes(std::byte* body) {
    return std::launder(reinterpret_cast<LaneKey*>(body + kLanesOffset));
  }
  std::unique_ptr<KeyStore> keys_;
  // Lookahead: Add() hashes a key and prefetches its index slot, halfway to its turn the
  // record that slot names, and takes it kLookahead calls later, in arrival order, so that
  // the cache misses of several new keys overlap (a log of distinct clients is bound by them).
  // Keys are copied (their capacity reused: no allocation once warm).
  static constexpr std::size_t kLookahead = 8;
  struct Pending {
    std::int64_t t = 0;
    std::uint64_t cost = 0;
    std::uint64_t hash = 0;
    std::string key;
  };
  std::array<Pending, kLookahead> pending_;
  std::size_t pending_head_ = 0;
  std::size_t pending_count_ = 0;
  // Admitted requests within the last period, in time order (decisions are): per entry t, cost,
  // the key's body and the mask of the lanes that admitted it. Each leaves its key's in_period
  // when it slides out of (t - period, t]; bounded by what one period admits, not by the log.
  std::vector<std::uint64_t> recent_;
  std::size_t recent_head_ = 0;

  // Ordering.
  std::deque<Record> in_order_;  // arrived in time order
  std::priority_queue<Record, std::vector<Record>, Later> out_of_order_;
  std::int64_t max_seen_ = INT64_MIN;
  std::int64_t released_ = INT64_MIN;
  std::uint64_t seq_ = 0;
  std::uint64_t late_ = 0;
  // Spread: the records of one second.
  std::vector<Record> second_;
  std::int64_t second_at_ = INT64_MIN;

  std::uint64_t requests_ = 0;
  std::int64_t first_ns_ = 0;
  std::int64_t last_ns_ = 0;
  std::vector<std::uint64_t> mask_;  // scratch
};

}  // namespace sluice::sim

#endif  // SLUICE_TOOLS_SIM_REPLAY_H_
