// The process's own settings: `listen`, `admin`, `threads` and `log`, and ListenAddress.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cmath>

#include "sections.h"

namespace sluice::net {

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

void ParseListen(ConfigReader& reader, const YAML::Node& value, ServerConfig& config) {
  if (auto a = reader.Parsed(value, "listen", ListenAddress::Parse)) config.listen = *std::move(a);
}

void EmitListen(YAML::Emitter& out, const ServerConfig& config) {
  out << YAML::DoubleQuoted << config.listen.ToString();
}

void ParseAdmin(ConfigReader& reader, const YAML::Node& value, ServerConfig& config) {
  if (auto a = reader.Parsed(value, "admin", ListenAddress::Parse)) config.admin = *std::move(a);
}

void EmitAdmin(YAML::Emitter& out, const ServerConfig& config) {
  out << YAML::DoubleQuoted << config.admin.ToString();
}

void ParseThreads(ConfigReader& reader, const YAML::Node& value, ServerConfig& config) {
  const auto text = reader.Scalar(value, "threads");
  if (!text) return;
  if (*text == "auto") {
    config.threads = 0;
  } else if (const auto v = reader.Unsigned(value, "threads (auto or a number)", 1, kMaxThreads)) {
    config.threads = static_cast<unsigned>(*v);
  }
}

void EmitThreads(YAML::Emitter& out, const ServerConfig& config) {
  if (config.threads == 0) {
    out << "auto";
  } else {
    out << config.threads;
  }
}

void ParseLog(ConfigReader& reader, const YAML::Node& value, ServerConfig& config) {
  auto log = reader.Map(value, "log", {"denials", "sample_admits"});
  if (!log) return;
  log->String("denials", config.log.denials_path);
  if (const YAML::Node* n = log->Find("sample_admits")) {
    if (const auto text = reader.Scalar(*n, log->What("sample_admits"))) {
      double v = 0;
      const char* end = text->data() + text->size();
      const auto r = std::from_chars(text->data(), end, v);
      if (r.ec != std::errc() || r.ptr != end || !std::isfinite(v) || v < 0 || v > 1) {
        reader.Fail(*n, absl::StrCat("log sample_admits: ", Quoted(*text),
                                     " is not a number in [0, 1] (e.g. 0.01)"));
      } else {
        config.log.sample_admits = v;
      }
    }
  }
}

void EmitLog(YAML::Emitter& out, const ServerConfig& config) {
  out << YAML::BeginMap;
  out << YAML::Key << "denials" << YAML::Value << YAML::DoubleQuoted << config.log.denials_path;
  out << YAML::Key << "sample_admits" << YAML::Value << FormatDouble(config.log.sample_admits);
  out << YAML::EndMap;
}

}  // namespace sluice::net
