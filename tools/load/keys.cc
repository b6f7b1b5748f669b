#include "load/keys.h"

#include <bit>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace sluice::load {

namespace {

std::uint64_t SplitMix(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

absl::StatusOr<std::size_t> ParseCount(std::string_view text, std::string_view spec) {
  std::uint64_t n = 0;
  if (!absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &n) || n == 0 ||
      n > KeyDistribution::kMaxKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("keys '", absl::string_view(spec.data(), spec.size()),
                     "': N must be an integer in 1..", KeyDistribution::kMaxKeys));
  }
  return static_cast<std::size_t>(n);
}

}  // namespace

Rng::Rng(std::uint64_t seed) noexcept {
  for (auto& word : s_) word = SplitMix(seed);
}

std::uint64_t Rng::Next() noexcept {
  const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = std::rotl(s_[3], 45);
  return result;
}

void KeyDistribution::AddKey(std::string_view key) {
  if (offsets_.empty()) offsets_.push_back(0);
  arena_.append(key);
  offsets_.push_back(static_cast<std::uint32_t>(arena_.size()));
}

absl::StatusOr<KeyDistribution> KeyDistribution::Parse(std::string_view spec) {
  KeyDistribution d;
  std::vector<std::string_view> parts;
  for (std::string_view rest = spec;;) {
    const std::size_t colon = rest.find(':');
    parts.push_back(rest.substr(0, colon));
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  const std::string_view kind = parts[0];
  auto numbered = [&d](std::size_t n) {
    d.arena_.reserve(n * 8);
    d.offsets_.reserve(n + 1);
    for (std::size_t i = 0; i < n; ++i) d.AddKey(absl::StrCat("k", i));
  };
  if (kind == "none" && parts.size() == 1) {
    d.kind_ = Kind::kNone;
    d.AddKey("");
  } else if (kind == "single" && parts.size() == 1) {
    d.kind_ = Kind::kSingle;
    numbered(1);
  } else if (kind == "uniform" && parts.size() == 2) {
    auto n = ParseCount(parts[1], spec);
    if (!n.ok()) return n.status();
    d.kind_ = Kind::kUniform;
    numbered(*n);
  } else if (kind == "zipf" && parts.size() == 3) {
    auto n = ParseCount(parts[1], spec);
    if (!n.ok()) return n.status();
    double s = 0;
    if (!absl::SimpleAtod(absl::string_view(parts[2].data(), parts[2].size()), &s) || !(s >= 0) ||
        s > 10) {
      return absl::InvalidArgumentError(absl::StrCat("keys '",
                                                     absl::string_view(spec.data(), spec.size()),
                                                     "': S must be a number in [0, 10]"));
    }
    d.kind_ = Kind::kZipf;
    numbered(*n);
    d.BuildZipf(s);
  } else if (kind == "file" && parts.size() >= 2) {
    const std::string path(spec.substr(5));
    std::ifstream in(path);
    if (!in) return absl::NotFoundError(absl::StrCat("keys file '", path, "' cannot be read"));
    d.kind_ = Kind::kFile;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      if (line.find_first_of("\r\n") != std::string::npos || d.size() >= kMaxKeys) {
        return absl::InvalidArgumentError(absl::StrCat("keys file '", path, "': bad line"));
      }
      d.AddKey(line);
    }
    if (d.size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat("keys file '", path, "' has no keys"));
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("keys '", absl::string_view(spec.data(), spec.size()),
                     "': expected none, single, uniform:N, zipf:N:S or file:PATH"));
  }
  return d;
}

// Vose's alias method: column i keeps key i with probability_[i], else gives alias_[i].
void KeyDistribution::BuildZipf(double s) {
  const std::size_t n = size();
  zipf_s_ = s;
  std::vector<double> scaled(n);
  double norm = 0;
  for (std::size_t i = 0; i < n; ++i) {
    scaled[i] = std::pow(static_cast<double>(i + 1), -s);
    norm += scaled[i];
  }
  zipf_norm_ = norm;
  for (auto& p : scaled) p = p / norm * static_cast<double>(n);
  probability_.assign(n, 1.0);
  alias_.resize(n);
  std::vector<std::uint32_t> small, large;
  for (std::size_t i = 0; i < n; ++i) {
    alias_[i] = static_cast<std::uint32_t>(i);
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::uint32_t>(i));
  }
  while (!small.empty() && !large.empty()) {
    const std::uint32_t lo = small.back();
    small.pop_back();
    const std::uint32_t hi = large.back();
    probability_[lo] = scaled[lo];
    alias_[lo] = hi;
    scaled[hi] = (scaled[hi] + scaled[lo]) - 1.0;
    if (scaled[hi] < 1.0) {
      large.pop_back();
      small.push_back(hi);
    }
  }
  // Leftovers (rounding) keep their own column with certainty: probability_ is already 1.
}

double KeyDistribution::Weight(std::size_t index) const noexcept {
  switch (kind_) {
    case Kind::kNone:
    case Kind::kSingle:
      return index == 0 ? 1.0 : 0.0;
    case Kind::kUniform:
    case Kind::kFile:
      return index < size() ? 1.0 / static_cast<double>(size()) : 0.0;
    case Kind::kZipf:
      return index < size() ? std::pow(static_cast<double>(index + 1), -zipf_s_) / zipf_norm_ : 0.0;
  }
  return 0;
}

}  // namespace sluice::load
