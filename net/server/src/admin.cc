// The admin listener: GET /metrics, /healthz, /config. Off the data path: one thread, blocking
// sockets with timeouts, one request per connection.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "server_impl.h"

namespace sluice::net {
namespace {

std::string Respond(int status, std::string_view reason, std::string_view type,
                    std::string_view body) {
  return absl::StrCat("HTTP/1.1 ", status, " ", std::string(reason),
                      "\r\nContent-Type: ", std::string(type), "\r\nContent-Length: ", body.size(),
                      "\r\nConnection: close\r\n\r\n", std::string(body));
}

void SendAll(int fd, const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::string Server::Impl::AnswerAdmin(std::string_view method, std::string_view path) const {
  if (method != "GET" && method != "HEAD") {
    return Respond(405, "Method Not Allowed", "text/plain", "GET only\n");
  }
  if (path == "/metrics") {
    return Respond(200, "OK", "text/plain; version=0.0.4; charset=utf-8", MetricsText());
  }
  if (path == "/healthz") {
    for (const auto& shard : shards) {
      if (shard->stopped()) return Respond(503, "Service Unavailable", "text/plain", "stopping\n");
    }
    return Respond(200, "OK", "text/plain", "ok\n");
  }
  if (path == "/config") return Respond(200, "OK", "application/yaml", ConfigYaml());
  return Respond(404, "Not Found", "text/plain", "try /metrics, /healthz or /config\n");
}

void Server::Impl::AdminLoop() {
  HttpLimits limits;
  auto request = std::make_unique<HttpRequest>();
  while (!admin_stop_.load(std::memory_order_relaxed)) {
    pollfd p{admin_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept4(admin_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      // EMFILE/ENFILE leave the connection queued and poll() ready: wait instead of spinning.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      continue;
    }
    timeval tv{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::string buffer;
    char chunk[4096];
    std::string answer;
    // One request per connection, within 5 s in all: a slow client cannot hold the admin
    // thread (or Stop()) for long.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline &&
           !admin_stop_.load(std::memory_order_relaxed)) {
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(n));
      const ParseResult r = ParseRequestHead(buffer, limits, *request);
      if (r.status == ParseResult::Status::kPartial) continue;
      if (r.status == ParseResult::Status::kError) {
        answer = Respond(StatusFor(r.error), "Bad Request", "text/plain", "bad request\n");
      } else {
        answer = AnswerAdmin(request->method, request->path);
        if (request->method == "HEAD") answer.resize(answer.find("\r\n\r\n") + 4);
      }
      break;
    }
    if (!answer.empty()) SendAll(fd, answer);
    ::close(fd);
  }
}

}  // namespace sluice::net
