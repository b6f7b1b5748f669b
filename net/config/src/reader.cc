#include "reader.h"

#include <algorithm>

#include "absl/strings/ascii.h"

namespace sluice::net {
namespace {

int LineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 1 : mark.line + 1;
}

}  // namespace

int ConfigReader::Line(const YAML::Node& node) const {
  if (node.IsNull()) {
    for (const auto& [value, line] : null_values_) {
      if (value.is(node)) return line;
    }
  }
  return LineOf(node);
}

absl::Status ConfigReader::Errors() const {
  std::vector<Error> sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Error& a, const Error& b) { return a.line < b.line; });
  std::string message;
  for (const Error& e : sorted) {
    if (!message.empty()) message += '\n';
    absl::StrAppend(&message, Absl(source_), ":", e.line, ": ", e.message);
  }
  return absl::InvalidArgumentError(message);
}

std::optional<Mapping> ConfigReader::Map(const YAML::Node& node, std::string label,
                                         std::initializer_list<std::string_view> allowed) {
  return Map(node, std::move(label),
             std::span<const std::string_view>(allowed.begin(), allowed.size()));
}

std::optional<Mapping> ConfigReader::Map(const YAML::Node& node, std::string label,
                                         std::span<const std::string_view> allowed) {
  if (!node.IsMap()) {
    Fail(node, absl::StrCat(label, " must be a mapping (key: value)"));
    return std::nullopt;
  }
  Mapping mapping(*this, node, std::move(label));
  const std::string& what = mapping.label();
  std::vector<std::pair<std::string_view, int>> seen;
  for (const auto& entry : node) {
    const YAML::Node key = entry.first;
    if (!key.IsScalar()) {
      Fail(key, absl::StrCat(what, ": keys must be plain words"));
      continue;
    }
    const std::string& name = key.Scalar();
    const auto known = std::find(allowed.begin(), allowed.end(), name);
    if (known == allowed.end()) {
      const std::vector<std::string> names(allowed.begin(), allowed.end());
      Fail(key, absl::StrCat("unknown key ", Quoted(name), " in ", what, " (expected ",
                             absl::StrJoin(names, ", "), ")"));
      continue;
    }
    const auto first =
        std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == *known; });
    if (first != seen.end()) {
      Fail(key, absl::StrCat("duplicate key ", Quoted(name), " in ", what, " (first at line ",
                             first->second, ")"));
      continue;
    }
    seen.emplace_back(*known, LineOf(key));
    if (entry.second.IsNull()) null_values_.emplace_back(entry.second, LineOf(key));
    mapping.fields_.emplace_back(*known, entry.second);
  }
  return mapping;
}

std::optional<std::string> ConfigReader::Scalar(const YAML::Node& node, std::string_view what) {
  if (node.IsNull()) {
    Fail(node, absl::StrCat(Absl(what), ": missing value"));
    return std::nullopt;
  }
  if (!node.IsScalar()) {
    Fail(node, absl::StrCat(Absl(what), " must be a single value, not a list or mapping"));
    return std::nullopt;
  }
  if (!IsUtf8(node.Scalar())) {
    Fail(node, absl::StrCat(Absl(what), ": not valid UTF-8 text"));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<std::uint64_t> ConfigReader::Unsigned(const YAML::Node& node, std::string_view what,
                                                    std::uint64_t min, std::uint64_t max) {
  const auto text = Scalar(node, what);
  if (!text) return std::nullopt;
  const auto value = ParseDecimal(*text);
  if (!value) {
    Fail(node, absl::StrCat(Absl(what), ": ", Quoted(*text), " is not a whole number"));
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    Fail(node, absl::StrCat(Absl(what), ": ", *value, " is out of range [", min, ", ", max, "]"));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> ConfigReader::Bool(const YAML::Node& node, std::string_view what) {
  const auto text = Scalar(node, what);
  if (!text) return std::nullopt;
  bool value = false;
  if (!YAML::convert<bool>::decode(node, value)) {
    Fail(node, absl::StrCat(Absl(what), ": ", Quoted(*text), " is not true or false"));
    return std::nullopt;
  }
  return value;
}

std::vector<YAML::Node> ConfigReader::Items(const YAML::Node& node) {
  std::vector<YAML::Node> items;
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) items.push_back(item);
  } else {
    items.push_back(node);
  }
  return items;
}

const YAML::Node* Mapping::Find(std::string_view key) const {
  for (const auto& [name, node] : fields_) {
    if (name == key) return &node;
  }
  return nullptr;
}

const YAML::Node* Mapping::Require(std::string_view key, std::string_view hint) {
  if (const YAML::Node* n = Find(key)) return n;
  reader_->Fail(node_,
                absl::StrCat(label_, label_.empty() ? "" : ": ", "missing key '", Absl(key), "'",
                             hint.empty() ? "" : " (", Absl(hint), hint.empty() ? "" : ")"));
  return nullptr;
}

bool Mapping::String(std::string_view key, std::string& out) {
  const YAML::Node* n = Find(key);
  if (n == nullptr) return false;
  auto text = reader_->Scalar(*n, What(key));
  if (text) out = *std::move(text);
  return text.has_value();
}

bool Mapping::Bool(std::string_view key, bool& out) {
  const YAML::Node* n = Find(key);
  if (n == nullptr) return false;
  const auto v = reader_->Bool(*n, What(key));
  if (v) out = *v;
  return v.has_value();
}

bool Mapping::Millis(std::string_view key, std::uint64_t min, std::uint64_t max,
                     std::chrono::milliseconds& out) {
  std::uint64_t ms = 0;
  if (!Unsigned(key, min, max, ms)) return false;
  out = std::chrono::milliseconds{static_cast<std::int64_t>(ms)};
  return true;
}

bool Mapping::HeaderName(std::string_view key, std::string& out) {
  const YAML::Node* n = Find(key);
  if (n == nullptr) return false;
  const auto text = reader_->Scalar(*n, What(key));
  if (!text) return false;
  if (!IsToken(*text)) {
    reader_->Fail(*n, absl::StrCat(label_, ": ", Absl(key), " ", Quoted(*text),
                                   " is not a valid header name (letters, digits, -)"));
    return false;
  }
  out = absl::AsciiStrToLower(*text);
  return true;
}

}  // namespace sluice::net
