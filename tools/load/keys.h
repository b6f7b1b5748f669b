// sluice-load's key distributions: which key each request carries.
//
//   none          no key header at all
//   single        every request carries key "k0"
//   uniform:N     keys k0..k(N-1), each equally likely
//   zipf:N:S      keys k0..k(N-1), key ki with probability proportional to 1/(i+1)^S
//   file:PATH     the lines of PATH (empty lines skipped), each equally likely
//
// A draw is O(1) for every kind (zipf uses Vose's alias table), so the generator costs the same
// whatever the distribution.
#ifndef SLUICE_TOOLS_LOAD_KEYS_H_
#define SLUICE_TOOLS_LOAD_KEYS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice::load {

// xoshiro256** (Blackman and Vigna): fast, and good enough to pick keys. One per thread.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept;
  std::uint64_t Next() noexcept;
  // Uniform in [0, n) by Lemire's multiply-shift (bias below 2^-32 for n < 2^32).
  std::uint64_t Below(std::uint64_t n) noexcept {
    __extension__ using Wide = unsigned __int128;
    return static_cast<std::uint64_t>((static_cast<Wide>(Next()) * n) >> 64);
  }
  // Uniform in [0, 1).
  double Unit() noexcept { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t s_[4];
};

class KeyDistribution {
 public:
  enum class Kind { kNone, kSingle, kUniform, kZipf, kFile };
  static constexpr std::size_t kMaxKeys = 50'000'000;

  // Parses one of the specs above; file: reads the file now.
  static absl::StatusOr<KeyDistribution> Parse(std::string_view spec);

  Kind kind() const noexcept { return kind_; }
  std::size_t size() const noexcept { return offsets_.empty() ? 0 : offsets_.size() - 1; }
  // The index of the next key; 0 for none and single.
  std::size_t Draw(Rng& rng) const noexcept {
    switch (kind_) {
      case Kind::kNone:
      case Kind::kSingle:
        return 0;
      case Kind::kUniform:
      case Kind::kFile:
        return static_cast<std::size_t>(rng.Below(size()));
      case Kind::kZipf: {
        const std::size_t column = static_cast<std::size_t>(rng.Below(size()));
        return rng.Unit() < probability_[column] ? column : alias_[column];
      }
    }
    return 0;
  }
  std::string_view Key(std::size_t index) const noexcept {
    return std::string_view(arena_).substr(offsets_[index], offsets_[index + 1] - offsets_[index]);
  }
  // The exact probability of key `index` (for tests and reports).
  double Weight(std::size_t index) const noexcept;

 private:
  void AddKey(std::string_view key);
  void BuildZipf(double s);

  Kind kind_ = Kind::kNone;
  std::string arena_;                   // every key, back to back
  std::vector<std::uint32_t> offsets_;  // key i is arena_[offsets_[i], offsets_[i + 1])
  double zipf_s_ = 0;
  double zipf_norm_ = 0;
  std::vector<double> probability_;  // alias table (zipf only)
  std::vector<std::uint32_t> alias_;
};

}  // namespace sluice::load

#endif  // SLUICE_TOOLS_LOAD_KEYS_H_
