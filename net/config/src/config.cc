#include "sluice/net/config/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "sluice/policy.h"
#include "yaml_guard.h"

namespace sluice::net {
namespace {

// Bounds a config must respect so that a config that loads always runs.
constexpr std::uint64_t kMaxThreads = 1024;
constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 34;  // StateTable's own bound
constexpr std::size_t kMaxNameBytes = 64;
constexpr std::size_t kMaxKeyParts = 8;
constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
constexpr std::uint64_t kDayMs = 86'400'000;

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }
std::string Quoted(std::string_view s) { return absl::StrCat("'", Absl(s), "'"); }

// YAML text is Unicode: yaml-cpp passes invalid UTF-8 through when reading but writes U+FFFD
// for it, so such a value would not survive ToYaml() (GET /config would show another path).
bool IsUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    }
    if (b >= 0xC2 && b <= 0xDF) {
      n = 1;
      cp = b & 0x1Fu;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 2;
      cp = b & 0x0Fu;
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 3;
      cp = b & 0x07u;
    } else {
      return false;  // continuation byte first, C0/C1 overlong lead, or above U+10FFFF
    }
    if (s.size() - i <= n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0u) != 0x80u) return false;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    const std::uint32_t min = n == 1 ? 0x80u : n == 2 ? 0x800u : 0x10000u;
    if (cp < min || cp > 0x10FFFFu || (cp >= 0xD800u && cp <= 0xDFFFu)) return false;
    i += n + 1;
  }
  return true;
}

// RFC 9110 tchar: the characters of a header name or a method.
bool IsTchar(char c) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(c))) return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}
bool IsToken(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), IsTchar); }

// Policy names appear in headers (inside a structured-field string) and in metric labels.
bool IsPolicyName(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameBytes) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == ':';
  });
}

// Visible ASCII without '?' and '#': the bytes a request path can hold.
bool IsPathPrefix(std::string_view s) {
  if (s.empty() || s.front() != '/') return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c > 0x20 && c < 0x7f && c != '?' && c != '#'; });
}

// A strict decimal: digits only, no sign, no spaces, no overflow.
std::optional<std::uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::string FormatDouble(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

std::string_view ToString(WhenMissing w) {
  switch (w) {
    case WhenMissing::kSkip:
      return "skip";
    case WhenMissing::kDeny:
      return "deny";
    case WhenMissing::kIp:
      return "ip";
  }
  return "skip";
}

std::string_view ToString(PolicyMode m) { return m == PolicyMode::kShadow ? "shadow" : "enforce"; }

std::string KeyToString(const std::vector<KeyPart>& key) {
  std::vector<std::string> parts;
  parts.reserve(key.size());
  for (const KeyPart& part : key) parts.push_back(part.ToString());
  return absl::StrJoin(parts, ",");
}

int LineOf(const YAML::Node& node, int fallback = 1) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? fallback : mark.line + 1;
}

// The keys of one YAML mapping, checked against the allowed ones.
class Fields {
 public:
  [[nodiscard]] const YAML::Node* Find(std::string_view key) const {
    for (const auto& [name, node] : fields_) {
      if (name == key) return &node;
    }
    return nullptr;
  }
  void Add(std::string_view key, YAML::Node node) { fields_.emplace_back(key, std::move(node)); }

 private:
  std::vector<std::pair<std::string_view, YAML::Node>> fields_;
};

class ConfigParser {
 public:
  explicit ConfigParser(std::string_view source) : source_(source) {}

  absl::StatusOr<ServerConfig> Parse(std::string_view yaml) {
    ServerConfig config;
    config.source = std::string(source_);
    try {
      const std::string text(yaml);
      if (YamlLoadAllWouldLoop(text)) {
        FailAt(1, "YAML syntax error: a document cannot start here (a stray ',' or ']'?)");
        return Errors();
      }
      std::vector<YAML::Node> docs = YAML::LoadAll(text);
      if (docs.empty() || docs[0].IsNull()) {
        FailAt(1, "the config is empty (it needs at least a 'policies' list)");
      } else {
        if (docs.size() > 1) FailAt(LineOf(docs[1]), "only one YAML document is allowed");
        ParseRoot(docs[0], config);
      }
    } catch (const YAML::Exception& e) {
      FailAt(e.mark.is_null() ? 1 : e.mark.line + 1, absl::StrCat("YAML syntax error: ", e.msg));
    }
    if (errors_.empty()) return config;
    return Errors();
  }

 private:
  // Every error collected, in line order, one per line of the message.
  absl::Status Errors() {
    std::stable_sort(errors_.begin(), errors_.end(),
                     [](const Error& a, const Error& b) { return a.line < b.line; });
    std::string message;
    for (const Error& e : errors_) {
      if (!message.empty()) message += '\n';
      absl::StrAppend(&message, Absl(source_), ":", e.line, ": ", e.message);
    }
    return absl::InvalidArgumentError(message);
  }

  struct Error {
    int line;
    std::string message;
  };

  void FailAt(int line, std::string message) { errors_.push_back({line, std::move(message)}); }
  void Fail(const YAML::Node& node, std::string message) { FailAt(Line(node), std::move(message)); }
  // yaml-cpp marks an empty value ("listen:") where the next token starts: report the line of
  // its key instead.
  int Line(const YAML::Node& node) const {
    if (node.IsNull()) {
      for (const auto& [value, line] : null_values_) {
        if (value.is(node)) return line;
      }
    }
    return LineOf(node);
  }

  // The fields of mapping `node`; unknown and repeated keys are errors. nullopt: not a mapping.
  std::optional<Fields> MapFields(const YAML::Node& node, std::string_view what,
                                  std::initializer_list<std::string_view> allowed) {
    if (!node.IsMap()) {
      Fail(node, absl::StrCat(Absl(what), " must be a mapping (key: value)"));
      return std::nullopt;
    }
    Fields fields;
    std::vector<std::pair<std::string_view, int>> seen;
    for (const auto& entry : node) {
      const YAML::Node key = entry.first;
      if (!key.IsScalar()) {
        Fail(key, absl::StrCat(Absl(what), ": keys must be plain words"));
        continue;
      }
      const std::string& name = key.Scalar();
      const auto known = std::find(allowed.begin(), allowed.end(), name);
      if (known == allowed.end()) {
        std::vector<std::string> names(allowed.begin(), allowed.end());
        Fail(key, absl::StrCat("unknown key ", Quoted(name), " in ", Absl(what), " (expected ",
                               absl::StrJoin(names, ", "), ")"));
        continue;
      }
      const auto first =
          std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == *known; });
      if (first != seen.end()) {
        Fail(key, absl::StrCat("duplicate key ", Quoted(name), " in ", Absl(what),
                               " (first at line ", first->second, ")"));
        continue;
      }
      seen.emplace_back(*known, LineOf(key));
      if (entry.second.IsNull()) null_values_.emplace_back(entry.second, LineOf(key));
      fields.Add(*known, entry.second);
    }
    return fields;
  }

  std::optional<std::string> Scalar(const YAML::Node& node, std::string_view what) {
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

  std::optional<std::uint64_t> Unsigned(const YAML::Node& node, std::string_view what,
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

  std::optional<bool> Bool(const YAML::Node& node, std::string_view what) {
    const auto text = Scalar(node, what);
    if (!text) return std::nullopt;
    bool value = false;
    if (!YAML::convert<bool>::decode(node, value)) {
      Fail(node, absl::StrCat(Absl(what), ": ", Quoted(*text), " is not true or false"));
      return std::nullopt;
    }
    return value;
  }

  std::optional<ListenAddress> Address(const YAML::Node& node, std::string_view what) {
    const auto text = Scalar(node, what);
    if (!text) return std::nullopt;
    auto address = ListenAddress::Parse(*text);
    if (!address.ok()) {
      Fail(node, absl::StrCat(Absl(what), ": ", address.status().message()));
      return std::nullopt;
    }
    return *std::move(address);
  }

  void ParseRoot(const YAML::Node& root, ServerConfig& config) {
    const auto fields = MapFields(root, "the config",
                                  {"listen", "admin", "threads", "table", "response", "limits",
                                   "log", "forwarded", "policies"});
    if (!fields) return;
    if (const YAML::Node* n = fields->Find("listen")) {
      if (auto a = Address(*n, "listen")) config.listen = *std::move(a);
    }
    if (const YAML::Node* n = fields->Find("admin")) {
      if (auto a = Address(*n, "admin")) config.admin = *std::move(a);
    }
    if (const YAML::Node* n = fields->Find("threads")) {
      if (const auto text = Scalar(*n, "threads")) {
        if (*text == "auto") {
          config.threads = 0;
        } else if (const auto v = Unsigned(*n, "threads (auto or a number)", 1, kMaxThreads)) {
          config.threads = static_cast<unsigned>(*v);
        }
      }
    }
    if (const YAML::Node* n = fields->Find("table")) ParseTable(*n, config);
    if (const YAML::Node* n = fields->Find("response")) ParseResponse(*n, config);
    if (const YAML::Node* n = fields->Find("limits")) ParseLimits(*n, config.limits);
    if (const YAML::Node* n = fields->Find("log")) ParseLog(*n, config.log);
    if (const YAML::Node* n = fields->Find("forwarded")) {
      if (n->IsScalar() && n->Scalar() == "off") {
        Fail(*n, "forwarded: 'off' is for a policy; at the top level leave 'forwarded' out");
      } else {
        ForwardedConfig f;
        if (ParseForwarded(*n, "forwarded", f)) config.forwarded = std::move(f);
      }
    }
    if (const YAML::Node* n = fields->Find("policies")) {
      ParsePolicies(*n, config);
    } else {
      Fail(root, "missing key 'policies' (at least one policy is needed)");
    }
  }

  void ParseTable(const YAML::Node& node, ServerConfig& config) {
    const auto fields = MapFields(node, "table", {"capacity", "when_full"});
    if (!fields) return;
    if (const YAML::Node* n = fields->Find("capacity")) {
      if (const auto v = Unsigned(*n, "table capacity", 1, kMaxCapacity)) {
        config.table_capacity = static_cast<std::size_t>(*v);
      }
    }
    if (const YAML::Node* n = fields->Find("when_full")) {
      if (const auto text = Scalar(*n, "table when_full")) {
        auto w = ParseWhenFull(*text);
        if (w.ok()) {
          config.when_full = *w;
        } else {
          Fail(*n, absl::StrCat("table ", w.status().message()));
        }
      }
    }
  }

  void ParseResponse(const YAML::Node& node, ServerConfig& config) {
    const auto fields = MapFields(node, "response", {"deny_status", "legacy_headers"});
    if (!fields) return;
    if (const YAML::Node* n = fields->Find("deny_status")) {
      if (const auto v = Unsigned(*n, "response deny_status", 400, 599)) {
        config.deny_status = static_cast<int>(*v);
      }
    }
    if (const YAML::Node* n = fields->Find("legacy_headers")) {
      if (const auto v = Bool(*n, "response legacy_headers")) config.legacy_headers = *v;
    }
  }

  void ParseLimits(const YAML::Node& node, ServerLimits& limits) {
    const auto fields = MapFields(node, "limits",
                                  {"header_bytes", "headers", "uri_bytes", "idle_timeout_ms",
                                   "header_timeout_ms", "connections_per_shard", "output_bytes"});
    if (!fields) return;
    const auto size = [&](std::string_view key, std::uint64_t min, std::uint64_t max,
                          std::size_t& out) {
      if (const YAML::Node* n = fields->Find(key)) {
        if (const auto v = Unsigned(*n, absl::StrCat("limits ", Absl(key)), min, max)) {
          out = static_cast<std::size_t>(*v);
        }
      }
    };
    const auto ms = [&](std::string_view key, std::chrono::milliseconds& out) {
      if (const YAML::Node* n = fields->Find(key)) {
        if (const auto v = Unsigned(*n, absl::StrCat("limits ", Absl(key)), 1, kDayMs)) {
          out = std::chrono::milliseconds{static_cast<std::int64_t>(*v)};
        }
      }
    };
    size("header_bytes", 256, kMiB, limits.http.max_header_bytes);
    size("headers", 1, kMaxHeaders, limits.http.max_headers);
    size("uri_bytes", 16, kMiB, limits.http.max_uri_bytes);
    ms("idle_timeout_ms", limits.idle_timeout);
    ms("header_timeout_ms", limits.header_timeout);
    size("connections_per_shard", 1, kMiB, limits.max_connections_per_shard);
    size("output_bytes", 1024, 1024 * kMiB, limits.max_output_bytes);
  }

  void ParseLog(const YAML::Node& node, LogConfig& log) {
    const auto fields = MapFields(node, "log", {"denials", "sample_admits"});
    if (!fields) return;
    if (const YAML::Node* n = fields->Find("denials")) {
      if (auto path = Scalar(*n, "log denials")) log.denials_path = *std::move(path);
    }
    if (const YAML::Node* n = fields->Find("sample_admits")) {
      if (const auto text = Scalar(*n, "log sample_admits")) {
        double v = 0;
        const char* end = text->data() + text->size();
        const auto r = std::from_chars(text->data(), end, v);
        if (r.ec != std::errc() || r.ptr != end || !std::isfinite(v) || v < 0 || v > 1) {
          Fail(*n, absl::StrCat("log sample_admits: ", Quoted(*text),
                                " is not a number in [0, 1] (e.g. 0.01)"));
        } else {
          log.sample_admits = v;
        }
      }
    }
  }

  void ParsePolicies(const YAML::Node& node, ServerConfig& config) {
    if (!node.IsSequence()) {
      Fail(node, "policies must be a list (each entry starting with '- name: ...')");
      return;
    }
    if (node.size() == 0) {
      Fail(node, "policies: at least one policy is needed");
      return;
    }
    if (node.size() > kMaxPolicies) {
      Fail(node, absl::StrCat("policies: ", node.size(), " policies, at most ", kMaxPolicies,
                              " are supported"));
    }
    std::vector<std::pair<std::string, int>> names;  // name, line
    std::size_t index = 0;
    for (const YAML::Node& entry : node) {
      ++index;
      if (auto policy = ParsePolicy(entry, index, names)) {
        config.policies.push_back(*std::move(policy));
      }
    }
  }

  std::optional<ServerPolicy> ParsePolicy(const YAML::Node& node, std::size_t index,
                                          std::vector<std::pair<std::string, int>>& names) {
    std::string label = absl::StrCat("policy #", index);
    const auto fields =
        MapFields(node, label,
                  {"name", "match", "key", "when_missing", "rate", "burst", "mode", "forwarded"});
    if (!fields) return std::nullopt;
    const std::size_t errors_before = errors_.size();
    ServerPolicy p;
    p.line = Line(node);
    const auto missing = [&](std::string_view key) {
      Fail(node, absl::StrCat(label, ": missing key '", Absl(key), "'"));
    };

    if (const YAML::Node* n = fields->Find("name")) {
      if (auto name = Scalar(*n, absl::StrCat(label, " name"))) {
        if (!IsPolicyName(*name)) {
          Fail(*n, absl::StrCat(label, ": name ", Quoted(*name), " must be 1 to ", kMaxNameBytes,
                                " letters, digits or '-', '_', '.', ':'"));
        } else {
          label = absl::StrCat("policy ", Quoted(*name));
          const auto first = std::find_if(names.begin(), names.end(),
                                          [&](const auto& e) { return e.first == *name; });
          if (first != names.end()) {
            Fail(*n, absl::StrCat(label, " is defined twice (first at line ", first->second, ")"));
          } else {
            names.emplace_back(*name, Line(*n));
          }
          p.name = *std::move(name);
        }
      }
    } else {
      missing("name");
    }

    if (const YAML::Node* n = fields->Find("match")) ParseMatch(*n, label, p.match);

    if (const YAML::Node* n = fields->Find("key")) {
      ParseKey(*n, label, p.key);
    } else {
      missing("key");
    }

    if (const YAML::Node* n = fields->Find("when_missing")) {
      if (const auto text = Scalar(*n, absl::StrCat(label, " when_missing"))) {
        if (*text == "skip") {
          p.when_missing = WhenMissing::kSkip;
        } else if (*text == "deny") {
          p.when_missing = WhenMissing::kDeny;
        } else if (*text == "ip") {
          p.when_missing = WhenMissing::kIp;
        } else {
          Fail(*n, absl::StrCat(label, ": when_missing ", Quoted(*text),
                                " is not one of skip, deny, ip"));
        }
      }
    }

    bool rate_ok = false;
    int rate_line = p.line;
    if (const YAML::Node* n = fields->Find("rate")) {
      rate_line = Line(*n);
      if (const auto text = Scalar(*n, absl::StrCat(label, " rate"))) {
        auto rate = Rate::Parse(*text);
        if (rate.ok()) {
          p.rate = *rate;
          rate_ok = true;
        } else {
          Fail(*n, absl::StrCat(label, ": ", rate.status().message()));
        }
      }
    } else {
      missing("rate");
    }

    bool burst_ok = false;
    if (const YAML::Node* n = fields->Find("burst")) {
      if (const auto v = Unsigned(*n, absl::StrCat(label, " burst"), 1,
                                  std::numeric_limits<std::uint64_t>::max())) {
        p.burst = *v;
        burst_ok = true;
      }
    } else {
      missing("burst");
    }

    if (const YAML::Node* n = fields->Find("mode")) {
      if (const auto text = Scalar(*n, absl::StrCat(label, " mode"))) {
        if (*text == "enforce") {
          p.mode = PolicyMode::kEnforce;
        } else if (*text == "shadow") {
          p.mode = PolicyMode::kShadow;
        } else {
          Fail(*n, absl::StrCat(label, ": mode ", Quoted(*text), " is not one of enforce, shadow"));
        }
      }
    }

    if (const YAML::Node* n = fields->Find("forwarded")) {
      if (n->IsScalar() && n->Scalar() == "off") {
        p.forwarded_mode = ForwardedMode::kOff;
      } else if (n->IsScalar()) {
        Fail(*n, absl::StrCat(label, ": forwarded ", Quoted(n->Scalar()),
                              " is neither off nor a mapping (trusted: [...], client_ip: ...)"));
      } else if (ParseForwarded(*n, absl::StrCat(label, " forwarded"), p.forwarded)) {
        p.forwarded_mode = ForwardedMode::kOwn;
      }
    }

    // The engine's own checks (rate above 10^9/s, b*T above kMaxWindow): a config that loads
    // always builds.
    if (!p.name.empty() && rate_ok && burst_ok) {
      auto made = Policy::Make(PolicyConfig{p.name, p.rate, p.burst});
      if (!made.ok()) FailAt(rate_line, std::string(made.status().message()));
    }
    if (errors_.size() != errors_before) return std::nullopt;
    return p;
  }

  void ParseMatch(const YAML::Node& node, const std::string& label, PolicyMatch& match) {
    const std::string what = absl::StrCat(label, " match");
    const auto fields = MapFields(node, what, {"path_prefix", "method"});
    if (!fields) return;
    if (const YAML::Node* n = fields->Find("path_prefix")) {
      if (auto prefix = Scalar(*n, absl::StrCat(what, " path_prefix"))) {
        if (!IsPathPrefix(*prefix)) {
          Fail(*n, absl::StrCat(what, ": path_prefix ", Quoted(*prefix),
                                " must start with '/' and hold no spaces, '?' or '#'"));
        } else {
          match.path_prefix = *std::move(prefix);
        }
      }
    }
    if (const YAML::Node* n = fields->Find("method")) {
      if (auto method = Scalar(*n, absl::StrCat(what, " method"))) {
        const std::string upper = absl::AsciiStrToUpper(*method);
        constexpr std::string_view kKnown[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                               "CONNECT", "OPTIONS", "TRACE", "PATCH"};
        if (!IsToken(*method)) {
          Fail(*n, absl::StrCat(what, ": method ", Quoted(*method), " is not an HTTP method"));
        } else if (upper != *method &&
                   std::find(std::begin(kKnown), std::end(kKnown), upper) != std::end(kKnown)) {
          Fail(*n, absl::StrCat(what, ": method ", Quoted(*method),
                                " never matches: HTTP methods are case-sensitive (use ",
                                Quoted(upper), ")"));
        } else {
          match.method = *std::move(method);
        }
      }
    }
  }

  // A `forwarded:` mapping; false (errors reported) when it is not valid.
  bool ParseForwarded(const YAML::Node& node, const std::string& what, ForwardedConfig& out) {
    const std::size_t errors_before = errors_.size();
    const auto fields = MapFields(node, what, {"trusted", "client_ip", "hops", "uri", "method"});
    if (!fields) return false;
    ForwardedConfig f;
    if (const YAML::Node* n = fields->Find("trusted")) {
      std::vector<YAML::Node> entries;
      if (n->IsSequence()) {
        for (const YAML::Node& e : *n) entries.push_back(e);
      } else if (!n->IsNull()) {
        entries.push_back(*n);
      }
      if (entries.empty()) {
        Fail(*n, absl::StrCat(what,
                              " trusted: at least one address or CIDR prefix is needed "
                              "(e.g. [127.0.0.1, ::1])"));
      } else if (entries.size() > kMaxTrustedPrefixes) {
        Fail(*n, absl::StrCat(what, " trusted: ", entries.size(), " entries, at most ",
                              kMaxTrustedPrefixes));
      } else {
        for (const YAML::Node& e : entries) {
          const auto text = Scalar(e, absl::StrCat(what, " trusted"));
          if (!text) continue;
          auto prefix = IpPrefix::Parse(*text);
          if (prefix.ok()) {
            f.trusted.push_back(*prefix);
          } else {
            Fail(e, absl::StrCat(what, " trusted: ", prefix.status().message()));
          }
        }
      }
    } else {
      Fail(node, absl::StrCat(what,
                              ": missing key 'trusted' (the proxies whose headers count, "
                              "e.g. [127.0.0.1, ::1])"));
    }
    const auto header = [&](std::string_view key, std::string& dest) {
      const YAML::Node* n = fields->Find(key);
      if (n == nullptr) return;
      const auto text = Scalar(*n, absl::StrCat(what, " ", Absl(key)));
      if (!text) return;
      if (!IsToken(*text)) {
        Fail(*n, absl::StrCat(what, ": ", Absl(key), " ", Quoted(*text),
                              " is not a valid header name (letters, digits, -)"));
        return;
      }
      dest = absl::AsciiStrToLower(*text);
    };
    header("client_ip", f.client_ip);
    header("uri", f.uri);
    header("method", f.method);
    if (const YAML::Node* n = fields->Find("hops")) {
      if (const auto v = Unsigned(*n, absl::StrCat(what, " hops"), 1, kMaxForwardedHops)) {
        f.hops = static_cast<std::uint32_t>(*v);
      }
      if (fields->Find("client_ip") == nullptr) {
        Fail(*n, absl::StrCat(what, ": hops needs client_ip (the header whose list it counts)"));
      }
    }
    if (fields->Find("client_ip") == nullptr && fields->Find("uri") == nullptr &&
        fields->Find("method") == nullptr) {
      Fail(node, absl::StrCat(what,
                              ": set at least one of client_ip, uri, method (or use "
                              "'forwarded: off' in a policy)"));
    }
    if (errors_.size() != errors_before) return false;
    out = std::move(f);
    return true;
  }

  void ParseKey(const YAML::Node& node, const std::string& label, std::vector<KeyPart>& key) {
    const std::string what = absl::StrCat(label, " key");
    std::vector<YAML::Node> parts;
    if (node.IsSequence()) {
      if (node.size() == 0) {
        Fail(node, absl::StrCat(what, ": at least one part is needed (e.g. ip)"));
        return;
      }
      if (node.size() > kMaxKeyParts) {
        Fail(node, absl::StrCat(what, ": ", node.size(), " parts, at most ", kMaxKeyParts));
        return;
      }
      for (const YAML::Node& part : node) parts.push_back(part);
    } else {
      parts.push_back(node);
    }
    for (const YAML::Node& part : parts) {
      const auto text = Scalar(part, what);
      if (!text) continue;
      auto parsed = KeyPart::Parse(*text);
      if (!parsed.ok()) {
        Fail(part, absl::StrCat(what, ": ", parsed.status().message()));
        continue;
      }
      key.push_back(*std::move(parsed));
    }
  }

  std::string_view source_;
  std::vector<Error> errors_;
  std::vector<std::pair<YAML::Node, int>> null_values_;  // empty values and their keys' lines
};

}  // namespace

absl::StatusOr<ListenAddress> ListenAddress::Parse(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "address ", Quoted(text), ": ", Absl(why),
        " (expected HOST:PORT with an IP address, e.g. 127.0.0.1:8080 or [::1]:8080)"));
  };
  if (text.empty()) return bad("empty");
  std::string_view host;
  std::string_view rest;
  bool v6 = false;
  if (text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
    v6 = true;
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("missing ':PORT'");
    host = text.substr(0, colon);
    rest = text.substr(colon);
    if (host.find(':') != std::string_view::npos) {
      return bad("an IPv6 address is written in brackets");
    }
  }
  if (rest.empty() || rest.front() != ':') return bad("missing ':PORT'");
  const std::string_view port_text = rest.substr(1);
  if (port_text.empty()) return bad("missing port");
  if (host.empty()) return bad("missing host");
  const std::string host_z(host);
  if (v6) {
    in6_addr a6{};
    if (inet_pton(AF_INET6, host_z.c_str(), &a6) != 1) return bad("not an IPv6 address");
  } else {
    in_addr a4{};
    if (inet_pton(AF_INET, host_z.c_str(), &a4) != 1) return bad("host is not an IPv4 address");
  }
  const auto port = ParseDecimal(port_text);
  if (!port || *port > 65535) return bad("port must be a number in 0..65535");
  return ListenAddress{host_z, static_cast<std::uint16_t>(*port)};
}

std::string ListenAddress::ToString() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<KeyPart> KeyPart::Parse(std::string_view text) {
  if (text == "ip") return KeyPart{KeyPartKind::kIp, {}};
  if (text == "ip/64") return KeyPart{KeyPartKind::kIp64, {}};
  if (text == "path") return KeyPart{KeyPartKind::kPath, {}};
  if (text == "method") return KeyPart{KeyPartKind::kMethod, {}};
  constexpr std::string_view kHeader = "header:";
  if (text.starts_with(kHeader)) {
    const std::string_view name = text.substr(kHeader.size());
    if (!IsToken(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          Quoted(text), ": ", Quoted(name), " is not a valid header name (letters, digits, -)"));
    }
    return KeyPart{KeyPartKind::kHeader, absl::AsciiStrToLower(Absl(name))};
  }
  return absl::InvalidArgumentError(absl::StrCat(
      Quoted(text), " is not a key part (expected ip, ip/64, header:NAME, path or method)"));
}

std::string KeyPart::ToString() const {
  switch (kind) {
    case KeyPartKind::kIp:
      return "ip";
    case KeyPartKind::kIp64:
      return "ip/64";
    case KeyPartKind::kHeader:
      return absl::StrCat("header:", header);
    case KeyPartKind::kPath:
      return "path";
    case KeyPartKind::kMethod:
      return "method";
  }
  return "ip";
}

ServerConfig EmbeddedDefault() {
  ServerConfig config;
  ServerPolicy p;
  p.name = "per-ip";
  p.key = {KeyPart{KeyPartKind::kIp, {}}};
  p.rate = Rate{10, std::chrono::seconds(1)};
  p.burst = 20;
  config.policies.push_back(std::move(p));
  return config;
}

absl::StatusOr<ServerConfig> ParseConfig(std::string_view yaml, std::string_view source_name) {
  return ConfigParser(source_name).Parse(yaml);
}

absl::StatusOr<ServerConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read: ", std::strerror(errno)));
  }
  return ParseConfig(text.str(), path);
}

absl::Status ApplyOverrides(const CliOverrides& overrides, ServerConfig& config) {
  ServerConfig next = config;
  std::vector<std::string> errors;
  const auto error = [&](std::string_view flag, absl::string_view message) {
    errors.push_back(absl::StrCat("--", Absl(flag), ": ", message));
  };
  if (overrides.listen) {
    auto a = ListenAddress::Parse(*overrides.listen);
    if (a.ok()) {
      next.listen = *std::move(a);
    } else {
      error("listen", a.status().message());
    }
  }
  if (overrides.admin) {
    auto a = ListenAddress::Parse(*overrides.admin);
    if (a.ok()) {
      next.admin = *std::move(a);
    } else {
      error("admin", a.status().message());
    }
  }
  if (overrides.threads) {
    if (*overrides.threads == "auto") {
      next.threads = 0;
    } else {
      const auto n = ParseDecimal(*overrides.threads);
      if (!n || *n < 1 || *n > kMaxThreads) {
        error("threads", absl::StrCat(Quoted(*overrides.threads), " is not auto or a number in 1..",
                                      kMaxThreads));
      } else {
        next.threads = static_cast<unsigned>(*n);
      }
    }
  }
  const bool any_policy = overrides.rate || overrides.burst || overrides.key;
  if (any_policy) {
    if (!overrides.rate || !overrides.burst || !overrides.key) {
      std::vector<std::string> absent;
      if (!overrides.rate) absent.emplace_back("--rate");
      if (!overrides.burst) absent.emplace_back("--burst");
      if (!overrides.key) absent.emplace_back("--key");
      errors.push_back(absl::StrCat("--rate, --burst and --key go together: missing ",
                                    absl::StrJoin(absent, ", ")));
    } else {
      ServerPolicy p;
      p.name = "cli";
      bool ok = true;
      auto rate = Rate::Parse(*overrides.rate);
      if (rate.ok()) {
        p.rate = *rate;
      } else {
        error("rate", rate.status().message());
        ok = false;
      }
      if (*overrides.burst == 0) {
        error("burst", "must be at least 1");
        ok = false;
      }
      p.burst = *overrides.burst;
      const std::vector<absl::string_view> specs =
          absl::StrSplit(Absl(*overrides.key), ',', absl::SkipWhitespace());
      if (specs.empty()) {
        error("key", "at least one part is needed (e.g. ip)");
        ok = false;
      } else if (specs.size() > kMaxKeyParts) {
        error("key", absl::StrCat(specs.size(), " parts, at most ", kMaxKeyParts));
        ok = false;
      }
      for (const absl::string_view spec : specs) {
        const absl::string_view trimmed = absl::StripAsciiWhitespace(spec);
        auto part = KeyPart::Parse(std::string_view(trimmed.data(), trimmed.size()));
        if (part.ok()) {
          p.key.push_back(*std::move(part));
        } else {
          error("key", part.status().message());
          ok = false;
        }
      }
      if (ok) {
        auto made = Policy::Make(PolicyConfig{p.name, p.rate, p.burst});
        if (!made.ok()) {
          errors.emplace_back(made.status().message());
          ok = false;
        }
      }
      if (ok) next.policies = {std::move(p)};
    }
  }
  if (!errors.empty()) return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  config = std::move(next);
  return absl::OkStatus();
}

namespace {

void EmitForwarded(YAML::Emitter& out, const ForwardedConfig& f) {
  out << YAML::BeginMap;
  out << YAML::Key << "trusted" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const IpPrefix& p : f.trusted) out << YAML::DoubleQuoted << p.ToString();
  out << YAML::EndSeq;
  if (!f.client_ip.empty()) {
    out << YAML::Key << "client_ip" << YAML::Value << YAML::DoubleQuoted << f.client_ip;
    out << YAML::Key << "hops" << YAML::Value << f.hops;
  }
  if (!f.uri.empty()) out << YAML::Key << "uri" << YAML::Value << YAML::DoubleQuoted << f.uri;
  if (!f.method.empty()) {
    out << YAML::Key << "method" << YAML::Value << YAML::DoubleQuoted << f.method;
  }
  out << YAML::EndMap;
}

std::string ForwardedSummary(const ForwardedConfig& f) {
  std::vector<std::string> trusted;
  trusted.reserve(f.trusted.size());
  for (const IpPrefix& p : f.trusted) trusted.push_back(p.ToString());
  std::string s = absl::StrCat("from ", absl::StrJoin(trusted, " "), ":");
  if (!f.client_ip.empty()) absl::StrAppend(&s, " client ", f.client_ip, " hop ", f.hops);
  if (!f.uri.empty()) absl::StrAppend(&s, " uri ", f.uri);
  if (!f.method.empty()) absl::StrAppend(&s, " method ", f.method);
  return s;
}

}  // namespace

std::string ToYaml(const ServerConfig& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "listen" << YAML::Value << YAML::DoubleQuoted << config.listen.ToString();
  out << YAML::Key << "admin" << YAML::Value << YAML::DoubleQuoted << config.admin.ToString();
  out << YAML::Key << "threads" << YAML::Value;
  if (config.threads == 0) {
    out << "auto";
  } else {
    out << config.threads;
  }
  out << YAML::Key << "table" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "capacity" << YAML::Value << config.table_capacity;
  out << YAML::Key << "when_full" << YAML::Value << std::string(ToString(config.when_full));
  out << YAML::EndMap;
  out << YAML::Key << "response" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "deny_status" << YAML::Value << config.deny_status;
  out << YAML::Key << "legacy_headers" << YAML::Value << config.legacy_headers;
  out << YAML::EndMap;
  const ServerLimits& l = config.limits;
  out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "header_bytes" << YAML::Value << l.http.max_header_bytes;
  out << YAML::Key << "headers" << YAML::Value << l.http.max_headers;
  out << YAML::Key << "uri_bytes" << YAML::Value << l.http.max_uri_bytes;
  out << YAML::Key << "idle_timeout_ms" << YAML::Value << l.idle_timeout.count();
  out << YAML::Key << "header_timeout_ms" << YAML::Value << l.header_timeout.count();
  out << YAML::Key << "connections_per_shard" << YAML::Value << l.max_connections_per_shard;
  out << YAML::Key << "output_bytes" << YAML::Value << l.max_output_bytes;
  out << YAML::EndMap;
  out << YAML::Key << "log" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "denials" << YAML::Value << YAML::DoubleQuoted << config.log.denials_path;
  out << YAML::Key << "sample_admits" << YAML::Value << FormatDouble(config.log.sample_admits);
  out << YAML::EndMap;
  if (config.forwarded) {
    out << YAML::Key << "forwarded" << YAML::Value;
    EmitForwarded(out, *config.forwarded);
  }
  out << YAML::Key << "policies" << YAML::Value << YAML::BeginSeq;
  for (const ServerPolicy& p : config.policies) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << p.name;
    if (!p.match.path_prefix.empty() || !p.match.method.empty()) {
      out << YAML::Key << "match" << YAML::Value << YAML::BeginMap;
      if (!p.match.path_prefix.empty()) {
        out << YAML::Key << "path_prefix" << YAML::Value << YAML::DoubleQuoted
            << p.match.path_prefix;
      }
      if (!p.match.method.empty()) {
        out << YAML::Key << "method" << YAML::Value << YAML::DoubleQuoted << p.match.method;
      }
      out << YAML::EndMap;
    }
    out << YAML::Key << "key" << YAML::Value << YAML::BeginSeq;
    for (const KeyPart& part : p.key) out << YAML::DoubleQuoted << part.ToString();
    out << YAML::EndSeq;
    out << YAML::Key << "when_missing" << YAML::Value << std::string(ToString(p.when_missing));
    out << YAML::Key << "rate" << YAML::Value << p.rate.ToString();
    out << YAML::Key << "burst" << YAML::Value << p.burst;
    out << YAML::Key << "mode" << YAML::Value << std::string(ToString(p.mode));
    if (p.forwarded_mode == ForwardedMode::kOff) {
      out << YAML::Key << "forwarded" << YAML::Value << "off";
    } else if (p.forwarded_mode == ForwardedMode::kOwn) {
      out << YAML::Key << "forwarded" << YAML::Value;
      EmitForwarded(out, p.forwarded);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;
  return absl::StrCat(out.c_str(), "\n");
}

std::string Summary(const ServerConfig& config) {
  std::string s;
  absl::StrAppend(&s, "config ", config.source, "\n");
  absl::StrAppend(&s, "listen ", config.listen.ToString(), ", admin ", config.admin.ToString(),
                  ", threads ",
                  config.threads == 0 ? std::string("auto") : absl::StrCat(config.threads), "\n");
  absl::StrAppend(&s, "table ", config.table_capacity, " keys, when_full ",
                  Absl(ToString(config.when_full)), "; deny status ", config.deny_status,
                  config.legacy_headers ? ", legacy X-RateLimit headers" : "", "\n");
  if (config.forwarded) {
    absl::StrAppend(&s, "forwarded headers ", ForwardedSummary(*config.forwarded), "\n");
  }
  for (const ServerPolicy& p : config.policies) {
    absl::StrAppend(&s, "policy ", p.name, ": ", p.match.method.empty() ? "*" : p.match.method, " ",
                    p.match.path_prefix.empty() ? "/" : p.match.path_prefix, "*, key ",
                    KeyToString(p.key));
    const ForwardedConfig* fwd = p.forwarded_mode == ForwardedMode::kOwn   ? &p.forwarded
                                 : p.forwarded_mode == ForwardedMode::kOff ? nullptr
                                 : config.forwarded                        ? &*config.forwarded
                                                                           : nullptr;
    const bool forwarded_ip = fwd != nullptr && !fwd->client_ip.empty();
    const bool has_header = std::any_of(p.key.begin(), p.key.end(), [&](const KeyPart& k) {
      return k.kind == KeyPartKind::kHeader ||
             (forwarded_ip && (k.kind == KeyPartKind::kIp || k.kind == KeyPartKind::kIp64));
    });
    if (has_header) absl::StrAppend(&s, " (when missing: ", Absl(ToString(p.when_missing)), ")");
    absl::StrAppend(&s, ", ", p.rate.ToString(), " burst ", p.burst, ", ", Absl(ToString(p.mode)));
    if (p.forwarded_mode == ForwardedMode::kOff && config.forwarded) {
      absl::StrAppend(&s, ", forwarded headers off");
    } else if (p.forwarded_mode == ForwardedMode::kOwn) {
      absl::StrAppend(&s, ", forwarded headers ", ForwardedSummary(p.forwarded));
    }
    absl::StrAppend(&s, "\n");
  }
  return s;
}

}  // namespace sluice::net
