// `policies`: what is limited (match), per what (key), how much (rate, burst), and how
// (when_missing, mode, forwarded); and KeyPart, the parts a key is made of.
#include <algorithm>
#include <iterator>
#include <limits>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "sections.h"
#include "sluice/net/http/http_target.h"
#include "sluice/policy.h"

namespace sluice::net {
namespace {

constexpr std::size_t kMaxNameBytes = 64;

// Policy names appear in headers (inside a structured-field string) and in metric labels.
bool IsPolicyName(std::string_view s) {
  if (s.empty() || s.size() > kMaxNameBytes) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == ':';
  });
}

// A reg-name of letters, digits, '-', '.', '_' (a DNS name), an IPv4 address, or an IPv6
// address in brackets: what a Host field holds before its port.
bool IsHostName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  if (s.front() == '[') {
    return s.size() > 2 && s.back() == ']' && std::all_of(s.begin() + 1, s.end() - 1, [](char c) {
             return absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
           });
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

// Visible ASCII without '?' and '#': the bytes a request path can hold.
bool IsPathPrefix(std::string_view s) {
  if (s.empty() || s.front() != '/') return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c > 0x20 && c < 0x7f && c != '?' && c != '#'; });
}

// A prefix no normalised path starts with (http_target.h): a percent-encoded octet, "//", or a
// "." or ".." segment followed by '/' (a final "." or ".." may go on as a name: "/api/." is a
// prefix of "/api/.well-known"). The normalised spelling, to suggest; empty if none.
std::optional<std::string> UnnormalisedPrefix(std::string_view s) {
  bool encoded = false;
  for (std::size_t i = 0; i + 2 < s.size(); ++i) {
    const auto hex = [](char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); };
    if (s[i] == '%' && hex(s[i + 1]) && hex(s[i + 2])) encoded = true;
  }
  if (!encoded && s.find("//") == std::string_view::npos &&
      s.find("/./") == std::string_view::npos && s.find("/../") == std::string_view::npos) {
    return std::nullopt;
  }
  std::string scratch(s.size(), '\0');
  const NormalisedPath n = NormalisePath(s, scratch.data(), scratch.size());
  if (n.status != NormalisedPath::Status::kOk) return std::string();
  return std::string(n.path);
}

}  // namespace

void ParseMatch(ConfigReader& reader, const YAML::Node& node, const std::string& label,
                PolicyMatch& match) {
  auto fields = reader.Map(node, absl::StrCat(label, " match"),
                           {"host", "path_prefix", "method", "case_insensitive"});
  if (!fields) return;
  const std::string& what = fields->label();
  if (const YAML::Node* n = fields->Find("host")) {
    if (auto host = reader.Scalar(*n, fields->What("host"))) {
      if (!IsHostName(*host)) {
        reader.Fail(*n, absl::StrCat(what, ": host ", Quoted(*host),
                                     " must be a host name or IP address without a port"));
      } else {
        match.host = absl::AsciiStrToLower(*host);
      }
    }
  }
  if (const YAML::Node* n = fields->Find("path_prefix")) {
    if (auto prefix = reader.Scalar(*n, fields->What("path_prefix"))) {
      if (!IsPathPrefix(*prefix)) {
        reader.Fail(*n, absl::StrCat(what, ": path_prefix ", Quoted(*prefix),
                                     " must start with '/' and hold no spaces, '?' or '#'"));
      } else if (const auto normal = UnnormalisedPrefix(*prefix)) {
        reader.Fail(
            *n, absl::StrCat(what, ": path_prefix ", Quoted(*prefix),
                             " never matches: requests are matched by their decoded, "
                             "normalised path",
                             normal->empty() ? "" : absl::StrCat(" (use ", Quoted(*normal), ")")));
      } else {
        match.path_prefix = *std::move(prefix);
      }
    }
  }
  if (const YAML::Node* n = fields->Find("method")) {
    if (auto method = reader.Scalar(*n, fields->What("method"))) {
      const std::string upper = absl::AsciiStrToUpper(*method);
      constexpr std::string_view kKnown[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                             "CONNECT", "OPTIONS", "TRACE", "PATCH"};
      if (!IsToken(*method)) {
        reader.Fail(*n, absl::StrCat(what, ": method ", Quoted(*method), " is not an HTTP method"));
      } else if (upper != *method &&
                 std::find(std::begin(kKnown), std::end(kKnown), upper) != std::end(kKnown)) {
        reader.Fail(*n, absl::StrCat(what, ": method ", Quoted(*method),
                                     " never matches: HTTP methods are case-sensitive (use ",
                                     Quoted(upper), ")"));
      } else if (!IsValidMethod(*method)) {
        reader.Fail(*n, absl::StrCat(what, ": method ", Quoted(*method),
                                     " never matches: sluiced accepts methods of upper-case "
                                     "letters, '-' and '_' only"));
      } else {
        match.method = *std::move(method);
      }
    }
  }
  fields->Bool("case_insensitive", match.case_insensitive);
}

void EmitMatch(YAML::Emitter& out, const PolicyMatch& match) {
  out << YAML::BeginMap;
  if (!match.host.empty()) {
    out << YAML::Key << "host" << YAML::Value << YAML::DoubleQuoted << match.host;
  }
  if (!match.path_prefix.empty()) {
    out << YAML::Key << "path_prefix" << YAML::Value << YAML::DoubleQuoted << match.path_prefix;
  }
  if (!match.method.empty()) {
    out << YAML::Key << "method" << YAML::Value << YAML::DoubleQuoted << match.method;
  }
  if (match.case_insensitive) out << YAML::Key << "case_insensitive" << YAML::Value << true;
  out << YAML::EndMap;
}

bool MatchesEverything(const PolicyMatch& match) {
  return match.host.empty() && match.path_prefix.empty() && match.method.empty() &&
         !match.case_insensitive;
}

namespace {

void ParseKey(ConfigReader& reader, const YAML::Node& node, const std::string& label,
              std::vector<KeyPart>& key) {
  const std::string what = absl::StrCat(label, " key");
  if (node.IsSequence() && node.size() == 0) {
    reader.Fail(node, absl::StrCat(what, ": at least one part is needed (e.g. ip)"));
    return;
  }
  if (node.IsSequence() && node.size() > kMaxKeyParts) {
    reader.Fail(node, absl::StrCat(what, ": ", node.size(), " parts, at most ", kMaxKeyParts));
    return;
  }
  for (const YAML::Node& part : ConfigReader::Items(node)) {
    if (auto parsed = reader.Parsed(part, what, KeyPart::Parse)) key.push_back(*std::move(parsed));
  }
}

std::optional<ServerPolicy> ParsePolicy(ConfigReader& reader, const YAML::Node& node,
                                        std::size_t index,
                                        std::vector<std::pair<std::string, int>>& names) {
  auto fields =
      reader.Map(node, absl::StrCat("policy #", index),
                 {"name", "match", "key", "when_missing", "rate", "burst", "mode", "forwarded"});
  if (!fields) return std::nullopt;
  const std::size_t errors_before = reader.error_count();
  ServerPolicy p;
  p.line = reader.Line(node);

  if (const YAML::Node* n = fields->Require("name")) {
    if (auto name = reader.Scalar(*n, fields->What("name"))) {
      if (!IsPolicyName(*name)) {
        reader.Fail(*n, absl::StrCat(fields->label(), ": name ", Quoted(*name), " must be 1 to ",
                                     kMaxNameBytes, " letters, digits or '-', '_', '.', ':'"));
      } else {
        fields->set_label(absl::StrCat("policy ", Quoted(*name)));
        const auto first = std::find_if(names.begin(), names.end(),
                                        [&](const auto& e) { return e.first == *name; });
        if (first != names.end()) {
          reader.Fail(*n, absl::StrCat(fields->label(), " is defined twice (first at line ",
                                       first->second, ")"));
        } else {
          names.emplace_back(*name, reader.Line(*n));
        }
        p.name = *std::move(name);
      }
    }
  }
  const std::string& label = fields->label();

  if (const YAML::Node* n = fields->Find("match")) ParseMatch(reader, *n, label, p.match);
  if (const YAML::Node* n = fields->Require("key")) ParseKey(reader, *n, label, p.key);
  fields->Enum(
      "when_missing",
      {{"skip", WhenMissing::kSkip}, {"deny", WhenMissing::kDeny}, {"ip", WhenMissing::kIp}},
      p.when_missing);

  bool rate_ok = false;
  int rate_line = p.line;
  if (const YAML::Node* n = fields->Require("rate")) {
    rate_line = reader.Line(*n);
    if (const auto text = reader.Scalar(*n, fields->What("rate"))) {
      auto rate = Rate::Parse(*text);
      if (rate.ok()) {
        p.rate = *rate;
        rate_ok = true;
      } else {
        reader.Fail(*n, absl::StrCat(label, ": ", rate.status().message()));
      }
    }
  }
  const bool burst_ok =
      fields->Require("burst") != nullptr &&
      fields->Unsigned("burst", 1, std::numeric_limits<std::uint64_t>::max(), p.burst);
  fields->Enum("mode", {{"enforce", PolicyMode::kEnforce}, {"shadow", PolicyMode::kShadow}},
               p.mode);

  if (const YAML::Node* n = fields->Find("forwarded")) {
    if (n->IsScalar() && n->Scalar() == "off") {
      p.forwarded_mode = ForwardedMode::kOff;
    } else if (n->IsScalar()) {
      reader.Fail(*n,
                  absl::StrCat(label, ": forwarded ", Quoted(n->Scalar()),
                               " is neither off nor a mapping (trusted: [...], client_ip: ...)"));
    } else if (ParseForwarded(reader, *n, fields->What("forwarded"), p.forwarded)) {
      p.forwarded_mode = ForwardedMode::kOwn;
    }
  }

  // The engine's own checks (rate above 10^9/s, b*T above kMaxWindow): a config that loads
  // always builds.
  if (!p.name.empty() && rate_ok && burst_ok) {
    auto made = Policy::Make(PolicyConfig{p.name, p.rate, p.burst});
    if (!made.ok()) reader.FailAt(rate_line, std::string(made.status().message()));
  }
  if (reader.error_count() != errors_before) return std::nullopt;
  return p;
}

}  // namespace

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

void ParsePolicies(ConfigReader& reader, const YAML::Node& value, ServerConfig& config) {
  if (!value.IsSequence()) {
    reader.Fail(value, "policies must be a list (each entry starting with '- name: ...')");
    return;
  }
  if (value.size() == 0) {
    reader.Fail(value, "policies: at least one policy is needed");
    return;
  }
  if (value.size() > kMaxPolicies) {
    reader.Fail(value, absl::StrCat("policies: ", value.size(), " policies, at most ", kMaxPolicies,
                                    " are supported"));
  }
  std::vector<std::pair<std::string, int>> names;  // name, line
  std::size_t index = 0;
  for (const YAML::Node& entry : value) {
    ++index;
    if (auto policy = ParsePolicy(reader, entry, index, names)) {
      config.policies.push_back(*std::move(policy));
    }
  }
}

void EmitPolicies(YAML::Emitter& out, const ServerConfig& config) {
  out << YAML::BeginSeq;
  for (const ServerPolicy& p : config.policies) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << p.name;
    if (!MatchesEverything(p.match)) {
      out << YAML::Key << "match" << YAML::Value;
      EmitMatch(out, p.match);
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
}

}  // namespace sluice::net
