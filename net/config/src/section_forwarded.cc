// `forwarded`: which peers may name the client address, the original target and method in
// headers. Top level (the listener's) or per policy (ParseForwarded() serves both).
#include "sections.h"

namespace sluice::net {

bool ParseForwarded(ConfigReader& reader, const YAML::Node& node, const std::string& label,
                    ForwardedConfig& out) {
  const std::size_t errors_before = reader.error_count();
  auto fields = reader.Map(node, label, {"trusted", "client_ip", "hops", "uri", "method"});
  if (!fields) return false;
  ForwardedConfig f;
  if (const YAML::Node* n =
          fields->Require("trusted", "the proxies whose headers count, e.g. [127.0.0.1, ::1]")) {
    const std::vector<YAML::Node> entries =
        n->IsNull() ? std::vector<YAML::Node>{} : ConfigReader::Items(*n);
    if (entries.empty()) {
      reader.Fail(*n, absl::StrCat(label,
                                   " trusted: at least one address or CIDR prefix is needed "
                                   "(e.g. [127.0.0.1, ::1])"));
    } else if (entries.size() > kMaxTrustedPrefixes) {
      reader.Fail(*n, absl::StrCat(label, " trusted: ", entries.size(), " entries, at most ",
                                   kMaxTrustedPrefixes));
    } else {
      for (const YAML::Node& e : entries) {
        if (auto prefix = reader.Parsed(e, fields->What("trusted"), IpPrefix::Parse)) {
          f.trusted.push_back(*prefix);
        }
      }
    }
  }
  fields->HeaderName("client_ip", f.client_ip);
  fields->HeaderName("uri", f.uri);
  fields->HeaderName("method", f.method);
  if (const YAML::Node* n = fields->Find("hops")) {
    fields->Unsigned("hops", 1, kMaxForwardedHops, f.hops);
    if (!fields->Has("client_ip")) {
      reader.Fail(*n,
                  absl::StrCat(label, ": hops needs client_ip (the header whose list it counts)"));
    }
  }
  if (!fields->Has("client_ip") && !fields->Has("uri") && !fields->Has("method")) {
    reader.Fail(node, absl::StrCat(label,
                                   ": set at least one of client_ip, uri, method (or use "
                                   "'forwarded: off' in a policy)"));
  }
  if (reader.error_count() != errors_before) return false;
  out = std::move(f);
  return true;
}

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

void ParseForwardedSection(ConfigReader& reader, const YAML::Node& value, ServerConfig& config) {
  if (value.IsScalar() && value.Scalar() == "off") {
    reader.Fail(value, "forwarded: 'off' is for a policy; at the top level leave 'forwarded' out");
    return;
  }
  ForwardedConfig f;
  if (ParseForwarded(reader, value, "forwarded", f)) config.forwarded = std::move(f);
}

void EmitForwardedSection(YAML::Emitter& out, const ServerConfig& config) {
  EmitForwarded(out, *config.forwarded);
}

bool HasForwardedSection(const ServerConfig& config) { return config.forwarded.has_value(); }

}  // namespace sluice::net
