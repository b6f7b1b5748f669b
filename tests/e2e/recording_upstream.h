// A scripted upstream for proxy-mode tests: a real TCP server on loopback (port 0) that
// records the exact bytes it receives on each connection and answers each request as a script
// says. It frames requests with sluice's own parser to know when one is complete; what the
// bytes mean is checked independently too, with python3-h11 (H11Parse below).
//
// Threading: one thread of its own runs a poll() loop; every accessor is safe from the test
// thread (one mutex, test code only). Replies are decided on the upstream's thread.
#ifndef SLUICE_TESTS_E2E_RECORDING_UPSTREAM_H_
#define SLUICE_TESTS_E2E_RECORDING_UPSTREAM_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sluice::e2e {

// One request as the upstream saw it.
struct UpstreamRequest {
  std::size_t connection = 0;  // accept order, from 0
  std::size_t index = 0;       // requests before it on its connection
  std::string head;            // the head's bytes, as received
  std::string body;            // the body's bytes as received (chunk framing included)
  std::string method;
  std::string target;
};

// What to do with one request.
struct Reply {
  enum class After : std::uint8_t { kKeepOpen, kClose, kReset };
  std::string bytes;  // sent as they are (may be several answers, or garbage)
  After after = After::kKeepOpen;
  bool silent = false;  // never answer (for timeouts); `after` is ignored
};

// An answer of `status` with a Content-Length body.
Reply Answer(int status, const std::string& body, const std::string& extra_headers = "");

using Script = std::function<Reply(const UpstreamRequest&)>;

class RecordingUpstream {
 public:
  // Listens on 127.0.0.1 (or ::1) port 0. Check ok(). `script` answers each request once its
  // body is in; with `early`, every request is answered by `early` as soon as its head is in
  // (an upstream that answers before reading the body), and `script` is not asked.
  explicit RecordingUpstream(Script script, bool ipv6 = false, Script early = nullptr);
  ~RecordingUpstream();
  RecordingUpstream(const RecordingUpstream&) = delete;
  RecordingUpstream& operator=(const RecordingUpstream&) = delete;

  [[nodiscard]] bool ok() const;
  [[nodiscard]] std::uint16_t port() const;
  // "127.0.0.1:PORT" (or "[::1]:PORT"), as a config names a server.
  [[nodiscard]] std::string address() const;

  // Every byte received, per connection in accept order.
  [[nodiscard]] std::vector<std::string> Received() const;
  // Every complete request, in arrival order.
  [[nodiscard]] std::vector<UpstreamRequest> Requests() const;
  // Every request head, in arrival order, as soon as it is in (before its body; `body` empty):
  // also those whose body never completes.
  [[nodiscard]] std::vector<UpstreamRequest> Heads() const;
  [[nodiscard]] std::size_t accepted() const;
  [[nodiscard]] std::size_t open() const;
  // Whether connection `connection` (accept order, as UpstreamRequest::connection) has been
  // closed, by either side.
  [[nodiscard]] bool closed(std::size_t connection) const;
  // Bytes that could not be framed as a request (our parser refused them), per connection;
  // such a connection is closed.
  [[nodiscard]] std::vector<std::string> Refused() const;
  // Closes every connection that is not in the middle of a request (an upstream dropping its
  // idle keep-alive connections).
  void CloseIdle();
  // Calls `condition` until it holds or `timeout` passes.
  bool WaitFor(const std::function<bool()>& condition,
               std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// What python3-h11 (an independent parser) makes of `bytes` sent to a server: one line per
// request "METHOD TARGET HTTP/V" then one "name: value" line per header (lower-cased names, in
// order), "body: <hex>", "trailer name: value" per trailer, and "end"; then "incomplete" when
// bytes of an unfinished request remain, or "error: <reason>" when h11 refuses them. Empty
// when python3 or h11 is unavailable (the caller skips).
std::string H11Parse(const std::string& bytes);
// The same listing from sluice's own request parser and body framer, for comparison.
std::string SluiceParse(const std::string& bytes);

}  // namespace sluice::e2e

#endif  // SLUICE_TESTS_E2E_RECORDING_UPSTREAM_H_
