#include "sim/replay.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <memory>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sluice::sim {
namespace {

constexpr std::int64_t kNsPerS = 1'000'000'000;

template <class F, class Tuple>
void ForEach(Tuple& t, F f) {
  std::apply([&](auto&... g) { (f(g), ...); }, t);
}

}  // namespace

Replay::Replay(ReplayOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Replay>> Replay::Create(ReplayOptions options) {
  if (options.algorithms.empty()) return absl::InvalidArgumentError("no algorithm to replay");
  if (options.points.empty()) return absl::InvalidArgumentError("no limit to replay");
  if (options.window_ns < 0) return absl::InvalidArgumentError("the window must not be negative");
  const std::chrono::nanoseconds period = options.points.front().rate.period;
  for (const SweepPoint& p : options.points) {
    if (p.rate.period != period) {
      return absl::InvalidArgumentError("every rate of a sweep must have the same unit");
    }
  }
  std::unique_ptr<Replay> r(new Replay(std::move(options)));
  r->period_ns_ = period.count();
  const std::size_t points = r->options_.points.size();
  r->lanes_count_ = r->options_.algorithms.size() * points;
  r->mask_words_ = (r->lanes_count_ + 63) / 64;
  r->lanes_.resize(r->lanes_count_);
  r->mask_.resize(r->mask_words_);
  absl::Status status;
  for (std::size_t a = 0; a < r->options_.algorithms.size(); ++a) {
    const std::string& name = r->options_.algorithms[a];
    bool known = false;
    ForEach(r->groups_, [&](auto& group) {
      using A = typename std::decay_t<decltype(group.rules)>::value_type::element_type;
      if (name != A::kName) return;
      known = true;
      if (!group.rules.empty()) {
        status = absl::InvalidArgumentError(absl::StrCat("algorithm '", name, "' given twice"));
        return;
      }
      for (std::size_t p = 0; p < points && status.ok(); ++p) {
        algorithms::AlgorithmConfig config;
        config.rate = r->options_.points[p].rate;
        config.burst = r->options_.points[p].burst;
        config.capacity = 1;  // the rule only: state lives in the replay
        config.seed = HashSeed{{1, 2, 3, 4}};
        auto rule = A::Create(config);
        if (!rule.ok()) {
          status =
              absl::InvalidArgumentError(absl::StrCat("at rate ", config.rate.ToString(), " burst ",
                                                      config.burst, ": ", rule.status().message()));
          return;
        }
        group.rules.push_back(*std::move(rule));
        group.lanes.push_back(a * points + p);
      }
    });
    if (!status.ok()) return status;
    if (!known) return absl::InvalidArgumentError(absl::StrCat("unknown algorithm '", name, "'"));
  }
  for (std::size_t a = 0; a < r->options_.algorithms.size(); ++a) {
    for (const SweepPoint& p : r->options_.points) r->limits_.push_back(p.rate.count);
  }
  // A key's body: its head, its lanes, then each group's states.
  std::size_t body = kLanesOffset + r->lanes_count_ * sizeof(LaneKey);
  ForEach(r->groups_, [&](auto& group) {
    using State = typename std::decay_t<decltype(group.rules)>::value_type::element_type::KeyState;
    if (group.rules.empty()) return;
    body = (body + alignof(State) - 1) / alignof(State) * alignof(State);
    group.offset = body;
    body += group.rules.size() * sizeof(State);
  });
  r->keys_ = std::make_unique<KeyStore>(body);
  return r;
}

Replay::~Replay() {
  if (keys_ == nullptr) return;
  ForEach(groups_, [&](auto& group) {
    using State = typename std::decay_t<decltype(group.rules)>::value_type::element_type::KeyState;
    if (std::is_trivially_destructible_v<State> || group.rules.empty()) return;
    for (std::uint32_t id = 0; id < keys_->size(); ++id) {
      auto* states = std::launder(reinterpret_cast<State*>(keys_->body(id) + group.offset));
      std::destroy_n(states, group.rules.size());
    }
  });
}

void Replay::InitKey(std::byte* body) {
  new (body) KeyHead();
  std::uninitialized_value_construct_n(reinterpret_cast<LaneKey*>(body + kLanesOffset),
                                       lanes_count_);
  ForEach(groups_, [&](auto& group) {
    using State = typename std::decay_t<decltype(group.rules)>::value_type::element_type::KeyState;
    if (group.rules.empty()) return;
    std::uninitialized_value_construct_n(reinterpret_cast<State*>(body + group.offset),
                                         group.rules.size());
  });
}

void Replay::Add(std::int64_t t_ns, std::string_view key, std::uint64_t cost) {
  if (pending_count_ == kLookahead) {
    const Pending& oldest = pending_[pending_head_];
    AddNow(oldest.t, oldest.key, oldest.hash, oldest.cost);
    pending_head_ = (pending_head_ + 1) % kLookahead;
    --pending_count_;
  }
  Pending& p = pending_[(pending_head_ + pending_count_) % kLookahead];
  ++pending_count_;
  p.t = t_ns;
  p.cost = cost;
  p.hash = KeyStore::Hash(key);
  p.key.assign(key);
  keys_->PrefetchSlot(p.hash);
  if (pending_count_ > kLookahead / 2) {
    keys_->PrefetchRecord(
        pending_[(pending_head_ + pending_count_ - 1 - kLookahead / 2) % kLookahead].hash);
  }
}

void Replay::AddNow(std::int64_t t_ns, std::string_view key, std::uint64_t hash,
                    std::uint64_t cost) {
  const KeyStore::Found found = keys_->FindOrInsert(key, hash);
  if (found.inserted) InitKey(found.body);
  const Record rec{t_ns, cost, seq_++, found.body};
  if (rec.t < released_) {  // later than the window allows: decided at the window's edge
    ++late_;
    Release(Record{released_, rec.cost, rec.seq, rec.key});
    return;
  }
  if (in_order_.empty() || rec.t >= in_order_.back().t) {
    in_order_.push_back(rec);
  } else {
    out_of_order_.push(rec);
  }
  max_seen_ = std::max(max_seen_, rec.t);
  // Release what can no longer be overtaken: older than the newest time minus the window.
  const std::int64_t edge = max_seen_ - options_.window_ns;
  while (ReleaseEarliest(edge)) {
  }
}

bool Replay::ReleaseEarliest(std::int64_t edge) {
  const bool a = !in_order_.empty() && in_order_.front().t <= edge;
  const bool b = !out_of_order_.empty() && out_of_order_.top().t <= edge;
  if (!a && !b) return false;
  if (a && (!b || !Later{}(in_order_.front(), out_of_order_.top()))) {
    Release(in_order_.front());
    in_order_.pop_front();
  } else {
    Release(out_of_order_.top());
    out_of_order_.pop();
  }
  return true;
}

void Replay::Finish() {
  for (; pending_count_ > 0; --pending_count_) {
    const Pending& p = pending_[pending_head_];
    AddNow(p.t, p.key, p.hash, p.cost);
    pending_head_ = (pending_head_ + 1) % kLookahead;
  }
  while (ReleaseEarliest(INT64_MAX)) {
  }
  FlushSecond();
}

// Spread: the held records of one second, spaced evenly over it, decided.
void Replay::FlushSecond() {
  const std::size_t n = second_.size();
  for (std::size_t i = 0; i < n; ++i) {
    second_[i].t =
        second_at_ + static_cast<std::int64_t>(i) * kNsPerS / static_cast<std::int64_t>(n);
    Decide(second_[i]);
  }
  second_.clear();
}

void Replay::Release(const Record& r) {
  released_ = std::max(released_, r.t);
  if (!options_.spread) {
    Decide(r);
    return;
  }
  const std::int64_t second = r.t - r.t % kNsPerS;
  if (second != second_at_) {
    FlushSecond();
    second_at_ = second;
  }
  second_.push_back(r);
}

template <class G>
void Replay::DecideGroup(G& group, const Record& r, std::uint64_t* admitted_mask) {
  using State = typename std::decay_t<decltype(group.rules)>::value_type::element_type::KeyState;
  const std::size_t points = group.rules.size();
  if (points == 0) return;
  State* const states = std::launder(reinterpret_cast<State*>(r.key + group.offset));
  LaneKey* const counts = Lanes(r.key);
  const std::chrono::nanoseconds now{r.t};
  for (std::size_t p = 0; p < points; ++p) {
    const Decision d = group.rules[p]->Decide(states[p], now, r.cost);
    const std::size_t lane = group.lanes[p];
    if (d.allowed) {
      ++lanes_[lane].admitted;
      admitted_mask[lane / 64] |= std::uint64_t{1} << (lane % 64);
    } else {
      ++lanes_[lane].denied;
      ++counts[lane].denied;
    }
  }
}

void Replay::Decide(const Record& r) {
  if (requests_ == 0) first_ns_ = r.t;
  last_ns_ = r.t;
  ++requests_;
  ++Head(r.key).requests;
  // What has slid out of the window of one period (t - period, t], every key's: decisions come
  // in time order, so a key's in_period below is what it admitted within its own window.
  const std::size_t stride = 3 + mask_words_;
  std::size_t head = recent_head_;
  while (head < recent_.size() && static_cast<std::int64_t>(recent_[head]) <= r.t - period_ns_) {
    const std::uint64_t cost = recent_[head + 1];
    LaneKey* const counts = Lanes(reinterpret_cast<std::byte*>(recent_[head + 2]));
    for (std::size_t w = 0; w < mask_words_; ++w) {
      for (std::uint64_t bits = recent_[head + 3 + w]; bits != 0; bits &= bits - 1) {
        counts[w * 64 + static_cast<std::size_t>(std::countr_zero(bits))].in_period -= cost;
      }
    }
    head += stride;
  }
  if (head == recent_.size()) {
    recent_.clear();
    head = 0;
  } else if (head > 0 && head * 2 >= recent_.size()) {
    recent_.erase(recent_.begin(), recent_.begin() + static_cast<std::ptrdiff_t>(head));
    head = 0;
  }
  recent_head_ = head;
  std::fill(mask_.begin(), mask_.end(), 0);
  ForEach(groups_, [&](auto& group) { DecideGroup(group, r, mask_.data()); });
  if (r.cost == 0) return;
  LaneKey* const counts = Lanes(r.key);
  bool any = false;
  for (std::size_t w = 0; w < mask_words_; ++w) {
    for (std::uint64_t bits = mask_[w]; bits != 0; bits &= bits - 1) {
      const std::size_t lane = w * 64 + static_cast<std::size_t>(std::countr_zero(bits));
      counts[lane].in_period += r.cost;
      lanes_[lane].most_in_period = std::max(lanes_[lane].most_in_period, counts[lane].in_period);
      any = true;
    }
  }
  if (!any) return;
  recent_.push_back(static_cast<std::uint64_t>(r.t));
  recent_.push_back(r.cost);
  recent_.push_back(reinterpret_cast<std::uintptr_t>(r.key));
  recent_.insert(recent_.end(), mask_.begin(), mask_.end());
}

std::vector<PointResult> Replay::Results() const {
  std::vector<PointResult> out;
  const std::size_t points = options_.points.size();
  const std::size_t keys = keys_->size();
  for (std::size_t lane = 0; lane < lanes_count_; ++lane) {
    PointResult p;
    p.algorithm = options_.algorithms[lane / points];
    p.point = options_.points[lane % points];
    p.requests = lanes_[lane].admitted + lanes_[lane].denied;
    p.denied = lanes_[lane].denied;
    p.clients = keys;
    p.worst_overshoot = static_cast<std::int64_t>(lanes_[lane].most_in_period) -
                        static_cast<std::int64_t>(limits_[lane]);
    // The top keys by denials: a min-heap of the best `top` so far.
    std::vector<std::pair<std::uint64_t, std::uint32_t>> best;  // (denials, id)
    const auto ranks_before = [](const auto& x, const auto& y) {
      return x.first != y.first ? x.first > y.first : x.second < y.second;
    };
    for (std::size_t id = 0; id < keys; ++id) {
      const std::uint64_t d = Lanes(keys_->body(static_cast<std::uint32_t>(id)))[lane].denied;
      if (d == 0) continue;
      ++p.clients_denied;
      if (options_.top == 0) continue;
      const std::pair<std::uint64_t, std::uint32_t> item{d, static_cast<std::uint32_t>(id)};
      if (best.size() < options_.top) {
        best.push_back(item);
        std::push_heap(best.begin(), best.end(), ranks_before);
      } else if (ranks_before(item, best.front())) {
        std::pop_heap(best.begin(), best.end(), ranks_before);
        best.back() = item;
        std::push_heap(best.begin(), best.end(), ranks_before);
      }
    }
    std::sort_heap(best.begin(), best.end(), ranks_before);
    for (const auto& [d, id] : best) {
      p.top.push_back(KeyDenials{std::string(keys_->key(id)), d, Head(keys_->body(id)).requests});
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace sluice::sim
