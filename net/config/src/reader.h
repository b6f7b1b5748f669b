// Reading one config file: every error with its line, and the field readers all sections
// share, so that a section (section_*.cc) states its keys, ranges and messages and nothing of
// the parsing around them. Config-time code: it allocates, and never throws past ParseConfig().
//
// Messages follow one pattern, which the tests and docs/config.md quote:
//   "<what> must be a mapping (key: value)"           Map() of a value that is not one
//   "unknown key 'k' in <what> (expected a, b, c)"    a key the section does not list
//   "duplicate key 'k' in <what> (first at line N)"
//   "<label> <key>: missing value"                     a field's value is empty
//   "<label> <key>: 7 is out of range [1, 5]"          a field's value is refused
//   "<label>: missing key 'k' (hint)"                  a required field is absent
#ifndef SLUICE_NET_CONFIG_SRC_READER_H_
#define SLUICE_NET_CONFIG_SRC_READER_H_

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "text.h"

namespace sluice::net {

class Mapping;

class ConfigReader {
 public:
  // `source` names the file in every message ("config.yaml:12: ...").
  explicit ConfigReader(std::string_view source) : source_(source) {}

  void FailAt(int line, std::string message) { errors_.push_back({line, std::move(message)}); }
  void Fail(const YAML::Node& node, std::string message) { FailAt(Line(node), std::move(message)); }
  // The 1-based line of `node`. yaml-cpp marks an empty value ("listen:") where the next token
  // starts: such a value reports the line of its key (Map() records them).
  [[nodiscard]] int Line(const YAML::Node& node) const;
  // Errors so far: a part that must not be stored when it had any compares counts.
  [[nodiscard]] std::size_t error_count() const noexcept { return errors_.size(); }
  // Every error, in line order, one per line of the message: "<source>:<line>: <message>".
  [[nodiscard]] absl::Status Errors() const;

  // The fields of mapping `node`, whose messages start with `label`; unknown and repeated keys
  // are errors (and left out). nullopt: `node` is not a mapping (reported).
  std::optional<Mapping> Map(const YAML::Node& node, std::string label,
                             std::initializer_list<std::string_view> allowed);
  std::optional<Mapping> Map(const YAML::Node& node, std::string label,
                             std::span<const std::string_view> allowed);

  // A single value (not a list or mapping, not empty, valid UTF-8), else nullopt (reported).
  std::optional<std::string> Scalar(const YAML::Node& node, std::string_view what);
  // A whole number in [min, max].
  std::optional<std::uint64_t> Unsigned(const YAML::Node& node, std::string_view what,
                                        std::uint64_t min, std::uint64_t max);
  // true or false (YAML's spellings of them).
  std::optional<bool> Bool(const YAML::Node& node, std::string_view what);
  // A value of a type with its own parser (ListenAddress::Parse, KeyPart::Parse, ...): its
  // error becomes "<what>: <its message>".
  template <typename T>
  std::optional<T> Parsed(const YAML::Node& node, std::string_view what,
                          absl::StatusOr<T> (*parse)(std::string_view)) {
    const auto text = Scalar(node, what);
    if (!text) return std::nullopt;
    auto value = parse(*text);
    if (!value.ok()) {
      Fail(node, absl::StrCat(Absl(what), ": ", value.status().message()));
      return std::nullopt;
    }
    return *std::move(value);
  }

  // The elements of a list, or the value itself when it is not one (`key: ip` is `key: [ip]`).
  static std::vector<YAML::Node> Items(const YAML::Node& node);

 private:
  struct Error {
    int line;
    std::string message;
  };
  std::string_view source_;
  std::vector<Error> errors_;
  std::vector<std::pair<YAML::Node, int>> null_values_;  // empty values and their keys' lines
};

// One mapping of the file, its keys checked by ConfigReader::Map(), and the label its fields'
// messages begin with ("limits", "policy 'api' match"). The typed readers store a present and
// valid field in `out`, report an invalid one, leave `out` alone when the key is absent, and
// return whether they stored.
class Mapping {
 public:
  [[nodiscard]] const YAML::Node& node() const noexcept { return node_; }
  [[nodiscard]] const std::string& label() const noexcept { return label_; }
  // A policy is "policy #2" until its name is read, then "policy 'api'".
  void set_label(std::string label) { label_ = std::move(label); }
  // "<label> <key>": what a field's own messages are about.
  [[nodiscard]] std::string What(std::string_view key) const {
    return label_.empty() ? std::string(key) : absl::StrCat(label_, " ", Absl(key));
  }

  [[nodiscard]] const YAML::Node* Find(std::string_view key) const;
  [[nodiscard]] bool Has(std::string_view key) const { return Find(key) != nullptr; }
  // The field, or nullptr after "<label>: missing key '<key>' (<hint>)" at the mapping's line.
  const YAML::Node* Require(std::string_view key, std::string_view hint = {});

  bool String(std::string_view key, std::string& out);
  bool Bool(std::string_view key, bool& out);
  template <typename T>
  bool Unsigned(std::string_view key, std::uint64_t min, std::uint64_t max, T& out) {
    const YAML::Node* n = Find(key);
    if (n == nullptr) return false;
    const auto v = reader_->Unsigned(*n, What(key), min, max);
    if (v) out = static_cast<T>(*v);
    return v.has_value();
  }
  // A duration written as whole milliseconds (the key says so: "idle_timeout_ms").
  bool Millis(std::string_view key, std::uint64_t min, std::uint64_t max,
              std::chrono::milliseconds& out);
  // One of `names`: "<label>: <key> 'x' is not one of a, b, c" otherwise.
  template <typename E>
  bool Enum(std::string_view key, std::initializer_list<std::pair<std::string_view, E>> names,
            E& out) {
    const YAML::Node* n = Find(key);
    if (n == nullptr) return false;
    const auto text = reader_->Scalar(*n, What(key));
    if (!text) return false;
    std::vector<std::string> spellings;
    for (const auto& [name, value] : names) {
      if (name == *text) {
        out = value;
        return true;
      }
      spellings.emplace_back(name);
    }
    reader_->Fail(*n, absl::StrCat(label_, ": ", Absl(key), " ", Quoted(*text), " is not one of ",
                                   absl::StrJoin(spellings, ", ")));
    return false;
  }
  // A header name (an RFC 9110 token), stored lower-cased.
  bool HeaderName(std::string_view key, std::string& out);

 private:
  friend class ConfigReader;
  Mapping(ConfigReader& reader, YAML::Node node, std::string label)
      : reader_(&reader), node_(std::move(node)), label_(std::move(label)) {}
  ConfigReader* reader_;
  YAML::Node node_;
  std::string label_;
  std::vector<std::pair<std::string_view, YAML::Node>> fields_;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_CONFIG_SRC_READER_H_
