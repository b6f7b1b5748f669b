// sluiced's configuration: the YAML file of DESIGN.md, the embedded default, CLI overrides.
//
// Loading never leaves a half-built config: every error of a file is collected with its line
// ("config.yaml:12: policy 'api': rate '10/x': unknown unit 'x' ...") and the whole load
// fails if there is any.
#ifndef SLUICE_NET_CONFIG_H_
#define SLUICE_NET_CONFIG_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice/net/http/forward_request.h"
#include "sluice/net/http/http_parser.h"
#include "sluice/rate.h"
#include "sluice/state_table.h"

namespace sluice::net {

struct ListenAddress {
  std::string host;  // "127.0.0.1", "0.0.0.0", "::1", "::" (written "[::1]:8080" in text)
  std::uint16_t port = 0;
  // Parses "HOST:PORT" or "[V6]:PORT" where HOST is an IP address literal (no name lookup:
  // inet_pton(AF_INET6) when it contains ':', else AF_INET); port 0 means "any free port".
  static absl::StatusOr<ListenAddress> Parse(std::string_view text);
  std::string ToString() const;
  friend bool operator==(const ListenAddress&, const ListenAddress&) = default;
};

enum class KeyPartKind : std::uint8_t { kIp, kIp64, kHeader, kPath, kMethod };
struct KeyPart {
  KeyPartKind kind = KeyPartKind::kIp;
  std::string header;  // kHeader: the name, lower-cased
  // "ip" | "ip/64" | "header:NAME" | "path" | "method"
  static absl::StatusOr<KeyPart> Parse(std::string_view text);
  std::string ToString() const;
  friend bool operator==(const KeyPart&, const KeyPart&) = default;
};

// An address or CIDR prefix of `forwarded: trusted`. IPv4 is kept as 4 bytes; an IPv4-mapped
// IPv6 prefix of length 96 or more ("::ffff:10.0.0.0/104") is stored as the IPv4 prefix it
// means, since peers are compared in the same normal form (IPv4-mapped peers count as IPv4).
struct IpPrefix {
  unsigned char bytes[16] = {};
  std::uint8_t size = 4;     // 4 (IPv4) or 16 (IPv6): bytes in use
  std::uint8_t length = 32;  // prefix bits, 0..8*size
  // "10.0.0.1", "10.0.0.0/8", "::1", "2001:db8::/32". Host bits set after the prefix
  // ("10.0.0.1/8") are an error: the intended network is ambiguous.
  static absl::StatusOr<IpPrefix> Parse(std::string_view text);
  // Canonical text (inet_ntop); the "/N" only when N is not the full length.
  std::string ToString() const;
  // `ip` is `ip_size` bytes (4: IPv4, 16: IPv6). IPv4 matches only IPv4 prefixes.
  [[nodiscard]] bool Contains(const unsigned char* ip, std::size_t ip_size) const noexcept;
  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
};

inline constexpr std::size_t kMaxTrustedPrefixes = 256;
inline constexpr std::uint32_t kMaxForwardedHops = 64;

// `forwarded:` (top level, or per policy): which peers may tell us the client address and the
// original request target and method in headers (a proxy's auth subrequest).
struct ForwardedConfig {
  std::vector<IpPrefix> trusted;  // at least one
  std::string client_ip;          // header name, lower-cased; empty: the ip is the peer's
  std::uint32_t hops = 1;         // the client is the hops-th entry from the right
  std::string uri;                // header with the original target; empty: the request line's
  std::string method;             // header with the original method; empty: the request line's
  friend bool operator==(const ForwardedConfig&, const ForwardedConfig&) = default;
};

// A policy's `forwarded:`: absent (the listener's, if any), `off`, or its own mapping.
enum class ForwardedMode : std::uint8_t { kInherit, kOff, kOwn };

enum class WhenMissing : std::uint8_t { kSkip, kDeny, kIp };
enum class PolicyMode : std::uint8_t { kEnforce, kShadow };

struct PolicyMatch {
  std::string path_prefix;  // empty: any path; else compared with the normalised path
  std::string method;       // empty: any method (exact, case-sensitive as HTTP methods are)
  // path_prefix compares ASCII letters case-insensitively, and the policy's `path` key part
  // is lower-cased (so "/LOGIN" and "/login" are one key, as they are one match).
  bool case_insensitive = false;
  // Empty: any host. Else the request's host (Host, or an absolute-form target's authority)
  // without its port, compared case-insensitively; stored lower-cased.
  std::string host = {};  // (a default: older aggregate initialisers need not name it)
  friend bool operator==(const PolicyMatch&, const PolicyMatch&) = default;
};

struct ServerPolicy {
  std::string name;
  PolicyMatch match;
  std::vector<KeyPart> key;  // at least one part
  WhenMissing when_missing = WhenMissing::kSkip;
  Rate rate;
  std::uint64_t burst = 1;
  PolicyMode mode = PolicyMode::kEnforce;
  ForwardedMode forwarded_mode = ForwardedMode::kInherit;
  ForwardedConfig forwarded;  // kOwn only (default-constructed otherwise)
  int line = 0;               // where it was defined (0: not from a file)
  friend bool operator==(const ServerPolicy&, const ServerPolicy&) = default;
};

// YAML `limits:` keys: header_bytes (256..1 MiB), headers (1..kMaxHeaders), uri_bytes
// (16..1 MiB), idle_timeout_ms and header_timeout_ms (1..1 day), connections_per_shard
// (1..1 Mi), output_bytes (1 KiB..1 GiB).
struct ServerLimits {
  HttpLimits http;
  std::chrono::milliseconds idle_timeout{60'000};    // keep-alive connection with no request
  std::chrono::milliseconds header_timeout{10'000};  // a started head must complete (slowloris)
  std::size_t max_connections_per_shard = 16'384;    // excess accepted and closed at once
  std::size_t max_output_bytes = 64 * 1024;          // queued per connection; above: stop reading
  std::uint64_t max_body_bytes = 1 << 20;            // proxy mode: a larger request body is a 413
  // Written out: HttpLimits (http_parser.h) has no operator==, so a defaulted one would be
  // deleted.
  friend bool operator==(const ServerLimits& a, const ServerLimits& b) {
    return a.http.max_header_bytes == b.http.max_header_bytes &&
           a.http.max_headers == b.http.max_headers &&
           a.http.max_uri_bytes == b.http.max_uri_bytes && a.idle_timeout == b.idle_timeout &&
           a.header_timeout == b.header_timeout &&
           a.max_connections_per_shard == b.max_connections_per_shard &&
           a.max_output_bytes == b.max_output_bytes && a.max_body_bytes == b.max_body_bytes;
  }
};

// YAML `log: {denials: PATH, sample_admits: RATE}`, RATE a number in [0, 1].
struct LogConfig {
  std::string denials_path;  // empty: no decision log
  double sample_admits = 0;  // fraction of admissions also logged, [0, 1]
  friend bool operator==(const LogConfig&, const LogConfig&) = default;
};

inline constexpr std::size_t kMaxPolicies = 64;

// Proxy mode (DESIGN.md "Proxy mode"): `upstreams`, `routes`, `proxy`.
inline constexpr std::size_t kMaxUpstreams = 64;
inline constexpr std::size_t kMaxServersPerUpstream = 64;
inline constexpr std::size_t kMaxRoutes = 256;

enum class Balance : std::uint8_t {
  kRoundRobin,     // each shard takes the servers in turn
  kLeastInFlight,  // the better of two random servers by requests in flight on this shard
};

// YAML `pool:` of an upstream: the keep-alive connections each shard keeps per server.
struct UpstreamPool {
  std::size_t idle_per_shard = 32;                 // idle connections kept; 0: no pooling
  std::uint64_t max_requests = 10'000;             // requests per connection, then closed
  std::chrono::milliseconds idle_timeout{50'000};  // keep below the upstream's own
  friend bool operator==(const UpstreamPool&, const UpstreamPool&) = default;
};

// YAML `timeouts:` of an upstream.
struct UpstreamTimeouts {
  std::chrono::milliseconds connect{1'000};           // connect: 504 when it passes
  std::chrono::milliseconds response_header{30'000};  // request sent to head received: 504
  std::chrono::milliseconds idle{60'000};             // between two reads or writes of a body
  friend bool operator==(const UpstreamTimeouts&, const UpstreamTimeouts&) = default;
};

struct UpstreamConfig {
  std::string name;
  std::vector<ListenAddress> servers;  // IP literal and port each, 1..kMaxServersPerUpstream
  Balance balance = Balance::kRoundRobin;
  UpstreamPool pool;
  UpstreamTimeouts timeouts;
  std::uint32_t retry_attempts = 1;             // `retry: {attempts}`: retries, only when safe
  std::uint32_t eject_failures = 5;             // consecutive failures that eject; 0: never
  std::chrono::milliseconds eject_for{30'000};  // how long an ejected server is left out
  int line = 0;
  friend bool operator==(const UpstreamConfig&, const UpstreamConfig&) = default;
};

// Routes match as policies do (host, normalised path prefix, method).
using RouteMatch = PolicyMatch;

struct RouteConfig {
  RouteMatch match;
  std::string upstream;    // the name of one of `upstreams`
  bool websocket = false;  // Upgrade: websocket crosses on this route
  int line = 0;
  friend bool operator==(const RouteConfig&, const RouteConfig&) = default;
};

// YAML `proxy:`: what sluiced adds to forwarded requests and answers.
struct ProxyConfig {
  XForwardedFor x_forwarded_for = XForwardedFor::kAppend;
  bool x_real_ip = true;
  bool ratelimit_headers = true;  // RateLimit / RateLimit-Policy on proxied answers too
  friend bool operator==(const ProxyConfig&, const ProxyConfig&) = default;
};

struct ServerConfig {
  ListenAddress listen{"127.0.0.1", 8080};
  ListenAddress admin{"127.0.0.1", 9901};
  unsigned threads = 0;  // 0: "auto", one shard per CPU this process may run on
  std::size_t table_capacity = std::size_t{1} << 20;
  WhenFull when_full = WhenFull::kEvict;
  int deny_status = 429;
  bool legacy_headers = false;
  ServerLimits limits;
  LogConfig log;
  std::optional<ForwardedConfig> forwarded;  // the listener's; policies may override
  std::vector<ServerPolicy> policies;        // 1..kMaxPolicies, unique names
  std::vector<UpstreamConfig> upstreams;     // unique names; used only with routes
  std::vector<RouteConfig> routes;           // first match wins; empty: decision mode
  ProxyConfig proxy;
  std::string source = "<embedded default>";
  friend bool operator==(const ServerConfig&, const ServerConfig&) = default;
};

// listen 127.0.0.1:8080, admin 127.0.0.1:9901, one policy per-ip, key ip, 10/s, burst 20.
ServerConfig EmbeddedDefault();

// Parses YAML text. On error the status message holds one line per error,
// "<source_name>:<line>: <what is wrong>", every error of the text, not only the first.
absl::StatusOr<ServerConfig> ParseConfig(std::string_view yaml, std::string_view source_name);
absl::StatusOr<ServerConfig> LoadConfigFile(const std::string& path);

// CLI flags over a config (DESIGN.md): --listen, --admin, --threads; --rate/--burst/--key
// together replace the policies with one policy named "cli".
struct CliOverrides {
  std::optional<std::string> listen;
  std::optional<std::string> admin;
  std::optional<std::string> threads;  // "auto" or N
  std::optional<std::string> rate;
  std::optional<std::uint64_t> burst;
  std::optional<std::string> key;  // one key spec, or a comma-separated list
};
absl::Status ApplyOverrides(const CliOverrides& overrides, ServerConfig& config);

// The effective config as YAML that ParseConfig() reads back to an equal config (GET /config).
std::string ToYaml(const ServerConfig& config);
// A few human lines for startup: listen, admin, threads, table, each policy.
std::string Summary(const ServerConfig& config);

}  // namespace sluice::net

#endif  // SLUICE_NET_CONFIG_H_
