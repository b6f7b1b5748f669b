// sluice-load's latency histogram: log-linear buckets in the manner of HdrHistogram.
//
// Values are nanoseconds. Below 2^kSubBits every value has its own bucket; above, each power of
// two [2^k, 2^(k+1)) is split into 2^kSubBits equal buckets, so a recorded value is known to
// within 1/2^kSubBits (0.78%) of itself. Values above kMaxValue land in the last bucket (and
// max() still reports them exactly). Recording is an index computation and an increment: no
// allocation, no branch on the data beyond the clamp. One histogram per thread, merged at the end.
#ifndef SLUICE_TOOLS_LOAD_HISTOGRAM_H_
#define SLUICE_TOOLS_LOAD_HISTOGRAM_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice::load {

class Histogram {
 public:
  static constexpr int kSubBits = 7;  // 128 buckets per power of two
  static constexpr std::uint64_t kSubCount = std::uint64_t{1} << kSubBits;
  static constexpr int kMaxBits = 42;  // 2^42 ns, about 73 minutes
  static constexpr std::uint64_t kMaxValue = (std::uint64_t{1} << kMaxBits) - 1;
  static constexpr std::size_t kBuckets =
      static_cast<std::size_t>((kMaxBits - kSubBits + 1) * kSubCount);

  Histogram() : counts_(kBuckets, 0) {}

  // The bucket of `value`: values < 2 * kSubCount are their own index; above, the top
  // kSubBits + 1 bits select the bucket.
  static constexpr std::size_t IndexOf(std::uint64_t value) noexcept {
    if (value > kMaxValue) value = kMaxValue;
    if (value < 2 * kSubCount) return static_cast<std::size_t>(value);
    const int shift = static_cast<int>(std::bit_width(value)) - 1 - kSubBits;
    return static_cast<std::size_t>(static_cast<std::uint64_t>(shift) * kSubCount +
                                    (value >> shift));
  }
  // The smallest and largest value that share bucket `index`.
  static constexpr std::uint64_t LowestOf(std::size_t index) noexcept {
    if (index < 2 * kSubCount) return index;
    const std::uint64_t shift = index / kSubCount - 1;
    const std::uint64_t sub = index % kSubCount + kSubCount;
    return sub << shift;
  }
  static constexpr std::uint64_t HighestOf(std::size_t index) noexcept {
    if (index < 2 * kSubCount) return index;
    const std::uint64_t shift = index / kSubCount - 1;
    const std::uint64_t sub = index % kSubCount + kSubCount;
    return ((sub + 1) << shift) - 1;
  }

  void Record(std::uint64_t value_ns) noexcept {
    ++counts_[IndexOf(value_ns)];
    ++total_;
    sum_ += value_ns;
    if (value_ns > max_) max_ = value_ns;
    if (value_ns < min_) min_ = value_ns;
  }
  void Merge(const Histogram& other) noexcept;

  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return max_; }
  std::uint64_t min() const noexcept { return total_ == 0 ? 0 : min_; }
  double mean() const noexcept {
    return total_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(total_);
  }
  // The value at quantile q in [0, 1]: the highest value equivalent to the bucket holding the
  // ceil(q * count)-th smallest sample (HdrHistogram's convention), capped at max(). 0 when
  // empty.
  std::uint64_t ValueAt(double q) const noexcept;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = UINT64_MAX;
};

}  // namespace sluice::load

#endif  // SLUICE_TOOLS_LOAD_HISTOGRAM_H_
