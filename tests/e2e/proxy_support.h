// Shared pieces of the proxy-mode e2e suites (smuggling, failures, peers): a config for a real
// sluiced in front of a test upstream, the canonical request sluiced is expected to forward, a
// strict reader of what sluiced answers a client (1xx, Content-Length, chunked with trailers,
// close-delimited; a truncated answer is reported as such, never completed), and a bare
// loopback listener a test drives by hand (for upstreams that refuse, stall or never read).
#ifndef SLUICE_TESTS_E2E_PROXY_SUPPORT_H_
#define SLUICE_TESTS_E2E_PROXY_SUPPORT_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness.h"
#include "recording_upstream.h"

namespace sluice::e2e {

// What a proxy-mode config says beyond its fixed parts: listen and admin on port 0, one shard,
// one upstream `app`, and the policy `deny` (every request under /deny/ is denied: it keys on
// a header no test sends, with `when_missing: deny`, so the answer is a 429 at once and never
// depends on time).
struct ProxyConfig {
  std::vector<std::string> servers;  // "127.0.0.1:PORT", "[::1]:PORT"
  std::string pool = "{idle_per_shard: 4}";
  std::string timeouts = "{connect_ms: 2000, response_header_ms: 10000, idle_ms: 10000}";
  std::string retry = "{attempts: 0}";
  std::string eject;  // e.g. "{failures: 1, for_ms: 60000}"; empty: the defaults
  std::string routes = "  - {upstream: app}\n";
  std::string proxy = "{x_forwarded_for: append, x_real_ip: true, ratelimit_headers: true}";
  std::string limits;          // e.g. "{body_bytes: 1024}"; empty: the defaults
  std::string extra_policies;  // more entries of `policies:`
};
std::string ProxyYaml(const ProxyConfig& config);

// Starts sluiced with `yaml`; skips the test when the kernel refuses io_uring, fails it when
// sluiced does not start.
#define SLUICE_START_PROXY_OR_SKIP(server)                                      \
  do {                                                                          \
    if ((server).io_uring_refused()) GTEST_SKIP() << "kernel refused io_uring"; \
    ASSERT_TRUE((server).ok()) << (server).output();                            \
  } while (0)

// The request sluiced must forward for a client on 127.0.0.1 under the default ProxyConfig:
// `request_line` (without CRLF), the client's end-to-end fields as they must arrive (Host
// included, in the client's order), then X-Forwarded-For, X-Real-IP and X-Forwarded-Proto,
// then `framing` (a "Content-Length: N" or "Transfer-Encoding: chunked" line, or empty), the
// empty line and `body` (already in canonical framing).
std::string Forwarded(const std::string& request_line, const std::vector<std::string>& fields,
                      const std::string& framing = "", const std::string& body = "");

// One answer as a client received it.
struct ClientAnswer {
  int status = 0;
  std::string version;                                       // "HTTP/1.1"
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::vector<std::pair<std::string, std::string>> trailers;
  std::string body;  // decoded (chunk framing removed)
  enum class Framing : std::uint8_t { kNone, kLength, kChunked, kClose } framing = Framing::kNone;
  bool complete = false;  // false: the connection ended inside the body
  std::string raw;        // the answer's bytes as received

  [[nodiscard]] std::string Header(const std::string& name) const;  // first value, or ""
  [[nodiscard]] std::size_t Count(const std::string& name) const;
};

// Reads answers from a client connection, one at a time, in order.
class AnswerReader {
 public:
  explicit AnswerReader(Client& client) : client_(client) {}
  // The next answer (a 1xx is one too). `head`: it answers a HEAD (no body whatever it says).
  // nullopt when the connection ends (or the client's timeout passes) before a whole head, or
  // the bytes are not an HTTP/1.x answer. An answer cut inside its body is returned with
  // complete == false.
  std::optional<ClientAnswer> Next(bool head = false);
  // The next final (non-1xx) answer, skipping interim ones.
  std::optional<ClientAnswer> NextFinal(bool head = false);
  // True when the server closes the connection (EOF or reset) with no further bytes.
  bool Eof();
  // Bytes received and not yet returned as part of an answer.
  [[nodiscard]] const std::string& pending() const { return buffer_; }
  [[nodiscard]] bool eof_seen() const { return eof_; }

 private:
  bool Fill();  // one more recv; false on EOF, reset or timeout
  Client& client_;
  std::string buffer_;
  bool eof_ = false;
};

// A listening socket on 127.0.0.1 port 0 that does nothing by itself: the test accepts,
// reads and writes on it by hand (an upstream that stalls, never reads, or writes slowly).
class BareListener {
 public:
  explicit BareListener(int backlog = 16);
  ~BareListener();
  BareListener(const BareListener&) = delete;
  BareListener& operator=(const BareListener&) = delete;
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // A connection accepted within `timeout` (-1: none). The caller owns (closes) it.
  [[nodiscard]] int Accept(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A loopback port with no listener right now (bound, then closed): connecting is refused.
std::uint16_t RefusedPort();

// Reads from `fd` until `bytes` holds `want` bytes, or `marker` appears (when not empty), or
// EOF, or `timeout`. Returns what was read (appended to `bytes`).
bool ReadUntil(int fd, std::string& bytes, const std::string& marker, std::size_t want,
               std::chrono::milliseconds timeout);

// Reads `fd` until its peer closes it (true: EOF or a reset) or `timeout` passes (false),
// appending what it read to `bytes`.
bool ReadToClose(int fd, std::string& bytes, std::chrono::milliseconds timeout);

// Every byte the upstream received since `before` (per-connection byte counts taken earlier
// by ByteCounts), connections in accept order.
std::vector<std::size_t> ByteCounts(const std::vector<std::string>& received);
std::string NewBytes(const std::vector<std::string>& received,
                     const std::vector<std::size_t>& before);

// The last request head for `target` the upstream received, if any (its body may be missing).
std::optional<UpstreamRequest> Find(const RecordingUpstream& upstream, const std::string& target);
// Waits until the upstream connection that carried the last request for `target` is closed
// (by sluiced: test upstreams keep theirs open). False when there is none, or on timeout.
bool ClosedAfter(const RecordingUpstream& upstream, const std::string& target);

// Printable form of bytes for failure messages (CR, LF, controls and non-ASCII escaped).
std::string Escaped(const std::string& bytes, std::size_t max = 2000);

}  // namespace sluice::e2e

#endif  // SLUICE_TESTS_E2E_PROXY_SUPPORT_H_
