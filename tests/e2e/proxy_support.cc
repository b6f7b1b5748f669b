// Shared pieces of the proxy-mode e2e suites (see proxy_support.h).
#include "proxy_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace sluice::e2e {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

// "name: value" lines of [begin, end) (each ending in CRLF) into `out`; false on a line
// without a colon.
bool ParseFields(const std::string& text, std::vector<std::pair<std::string, std::string>>& out) {
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t eol = text.find("\r\n", at);
    const std::string line = text.substr(at, eol - at);
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) return false;
    out.emplace_back(Lower(line.substr(0, colon)), Trim(line.substr(colon + 1)));
    if (eol == std::string::npos) break;
    at = eol + 2;
  }
  return true;
}

}  // namespace

std::string ProxyYaml(const ProxyConfig& config) {
  std::string servers;
  for (const std::string& s : config.servers) {
    servers += (servers.empty() ? "" : ", ") + ("\"" + s + "\"");
  }
  std::string yaml =
      "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nthreads: 1\ntable: {capacity: 4096}\n";
  if (!config.limits.empty()) yaml += "limits: " + config.limits + "\n";
  yaml +=
      "policies:\n"
      "  - {name: deny, match: {path_prefix: /deny/}, key: [header:x-never-sent],"
      " when_missing: deny, rate: 1/s, burst: 1}\n" +
      config.extra_policies;
  yaml += "upstreams:\n  - name: app\n    servers: [" + servers + "]\n    pool: " + config.pool +
          "\n    timeouts: " + config.timeouts + "\n    retry: " + config.retry + "\n";
  if (!config.eject.empty()) yaml += "    eject: " + config.eject + "\n";
  yaml += "routes:\n" + config.routes;
  yaml += "proxy: " + config.proxy + "\n";
  return yaml;
}

std::string Forwarded(const std::string& request_line, const std::vector<std::string>& fields,
                      const std::string& framing, const std::string& body) {
  std::string out = request_line + "\r\n";
  for (const std::string& f : fields) out += f + "\r\n";
  out += "X-Forwarded-For: 127.0.0.1\r\nX-Real-IP: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n";
  if (!framing.empty()) out += framing + "\r\n";
  return out + "\r\n" + body;
}

std::string ClientAnswer::Header(const std::string& name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

std::size_t ClientAnswer::Count(const std::string& name) const {
  std::size_t n = 0;
  for (const auto& h : headers) n += h.first == name ? 1 : 0;
  return n;
}

bool AnswerReader::Fill() {
  if (eof_) return false;
  char buf[65536];
  const ssize_t n = ::recv(client_.fd(), buf, sizeof buf, 0);
  if (n > 0) {
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  if (n == 0 || errno == ECONNRESET) eof_ = true;
  return false;
}

bool AnswerReader::Eof() {
  while (buffer_.empty()) {
    if (!Fill()) return eof_ && buffer_.empty();
  }
  return false;
}

std::optional<ClientAnswer> AnswerReader::Next(bool head) {
  std::size_t end = std::string::npos;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill()) return std::nullopt;
  }
  ClientAnswer a;
  const std::size_t line_end = buffer_.find("\r\n");
  const std::string status_line = buffer_.substr(0, line_end);
  if (status_line.size() < 12 || status_line.rfind("HTTP/1.", 0) != 0 || status_line[8] != ' ') {
    return std::nullopt;
  }
  a.version = status_line.substr(0, 8);
  a.status = std::atoi(status_line.c_str() + 9);
  if (line_end < end && !ParseFields(buffer_.substr(line_end + 2, end - line_end - 2), a.headers)) {
    return std::nullopt;
  }
  std::size_t at = end + 4;
  const std::string te = Lower(a.Header("transfer-encoding"));
  if (a.status < 200 || head || a.status == 204 || a.status == 304) {
    a.framing = ClientAnswer::Framing::kNone;
    a.complete = true;
  } else if (!te.empty()) {
    a.framing = ClientAnswer::Framing::kChunked;
    for (;;) {  // size line, data, CRLF; then trailers and the empty line
      std::size_t eol;
      while ((eol = buffer_.find("\r\n", at)) == std::string::npos) {
        if (!Fill()) break;
      }
      if (eol == std::string::npos) break;
      const std::string size_text = buffer_.substr(at, eol - at);
      char* stop = nullptr;
      const unsigned long long size = std::strtoull(size_text.c_str(), &stop, 16);
      if (size_text.empty() || *stop != '\0') break;  // not canonical: stop, incomplete
      at = eol + 2;
      if (size == 0) {
        for (;;) {
          if (buffer_.size() >= at + 2 && buffer_.compare(at, 2, "\r\n") == 0) {
            at += 2;
            a.complete = true;
            break;
          }
          if (const std::size_t e = buffer_.find("\r\n\r\n", at); e != std::string::npos) {
            a.complete = ParseFields(buffer_.substr(at, e - at), a.trailers);
            at = e + 4;
            break;
          }
          if (!Fill()) break;
        }
        break;
      }
      while (buffer_.size() < at + size + 2) {
        if (!Fill()) break;
      }
      if (buffer_.size() < at + size + 2) {
        a.body += buffer_.substr(at, size);
        at = buffer_.size();
        break;
      }
      a.body += buffer_.substr(at, size);
      at += size;
      if (buffer_.compare(at, 2, "\r\n") != 0) break;
      at += 2;
    }
  } else if (!a.Header("content-length").empty()) {
    a.framing = ClientAnswer::Framing::kLength;
    const auto length =
        static_cast<std::size_t>(std::strtoull(a.Header("content-length").c_str(), nullptr, 10));
    while (buffer_.size() < at + length) {
      if (!Fill()) break;
    }
    a.complete = buffer_.size() >= at + length;
    a.body = buffer_.substr(at, length);
    at = std::min(buffer_.size(), at + length);
  } else {
    a.framing = ClientAnswer::Framing::kClose;
    while (Fill()) {
    }
    a.complete = eof_;
    a.body = buffer_.substr(at);
    at = buffer_.size();
  }
  a.raw = buffer_.substr(0, at);
  buffer_.erase(0, at);
  return a;
}

std::optional<ClientAnswer> AnswerReader::NextFinal(bool head) {
  for (;;) {
    std::optional<ClientAnswer> a = Next(head);
    if (!a || a->status >= 200) return a;
  }
}

BareListener::BareListener(int backlog) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  const int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, backlog) == 0 &&
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port_ = ntohs(a.sin_port);
  }
}

BareListener::~BareListener() {
  if (fd_ >= 0) ::close(fd_);
}

int BareListener::Accept(std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return -1;
  return ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
}

std::uint16_t RefusedPort() {
  BareListener listener(1);
  return listener.port();  // closed when `listener` goes: nothing listens there any more
}

namespace {

enum class Received { kData, kEnded, kTimeout };

// Waits until `deadline` for bytes on `fd` and appends what one receive gives: kData, or
// kEnded when the peer closed or reset the connection, or kTimeout.
Received ReceiveSome(int fd, std::string& bytes, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Received::kTimeout;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[65536];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return Received::kEnded;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return Received::kEnded;
    }
    bytes.append(buf, static_cast<std::size_t>(n));
    return Received::kData;
  }
}

}  // namespace

bool ReadUntil(int fd, std::string& bytes, const std::string& marker, std::size_t want,
               std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!marker.empty() && bytes.find(marker) != std::string::npos) return true;
    if (want != 0 && bytes.size() >= want) return true;
    if (ReceiveSome(fd, bytes, deadline) != Received::kData) return false;
  }
}

bool ReadToClose(int fd, std::string& bytes, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const Received r = ReceiveSome(fd, bytes, deadline);
    if (r == Received::kTimeout) return false;
    if (r == Received::kEnded) return true;  // closed or reset
  }
}

std::vector<std::size_t> ByteCounts(const std::vector<std::string>& received) {
  std::vector<std::size_t> counts;
  for (const std::string& r : received) counts.push_back(r.size());
  return counts;
}

std::string NewBytes(const std::vector<std::string>& received,
                     const std::vector<std::size_t>& before) {
  std::string out;
  for (std::size_t i = 0; i < received.size(); ++i) {
    out += received[i].substr(i < before.size() ? before[i] : 0);
  }
  return out;
}

std::optional<UpstreamRequest> Find(const RecordingUpstream& upstream, const std::string& target) {
  std::optional<UpstreamRequest> found;
  for (const UpstreamRequest& r : upstream.Heads()) {
    if (r.target == target) found = r;
  }
  return found;
}

bool ClosedAfter(const RecordingUpstream& upstream, const std::string& target) {
  const std::optional<UpstreamRequest> r = Find(upstream, target);
  return r.has_value() && upstream.WaitFor([&] { return upstream.closed(r->connection); });
}

std::string Escaped(const std::string& bytes, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (bytes.size() > max) out += "...(" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

}  // namespace sluice::e2e
