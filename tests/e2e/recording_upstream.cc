// The scripted, recording upstream (see recording_upstream.h).
#include "recording_upstream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sluice/net/http/http_parser.h"

namespace sluice::e2e {
namespace {

using net::BodyFramer;
using net::HttpLimits;
using net::HttpRequest;
using net::ParseRequestHead;
using net::ParseResult;

constexpr std::string_view kReasonOk = "OK";

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

}  // namespace

Reply Answer(int status, const std::string& body, const std::string& extra_headers) {
  Reply reply;
  reply.bytes = "HTTP/1.1 " + std::to_string(status) + " " + std::string(kReasonOk) + "\r\n" +
                extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                body;
  return reply;
}

struct RecordingUpstream::State {
  struct Conn {
    int fd = -1;
    std::size_t id = 0;
    std::size_t requests = 0;
    std::string pending;  // bytes of the request being framed
    bool in_body = false;
    bool answered_early = false;  // `early` answered the request being read
    std::unique_ptr<HttpRequest> request = std::make_unique<HttpRequest>();
    BodyFramer framer;
    UpstreamRequest current;
    std::string out;  // answer bytes still to send
    Reply::After after = Reply::After::kKeepOpen;
  };

  Script script;
  Script early;
  int listen_fd = -1;
  int wake[2] = {-1, -1};
  std::uint16_t port = 0;
  bool ipv6 = false;
  std::thread thread;
  std::atomic<bool> stop{false};

  mutable std::mutex mu;  // guards everything below (and conns, on close_idle requests)
  std::vector<std::string> received;
  std::vector<std::string> refused;
  std::vector<bool> closed;  // per connection, in accept order
  std::vector<UpstreamRequest> requests;
  std::vector<UpstreamRequest> heads;
  std::size_t open = 0;
  bool close_idle = false;
  std::vector<Conn> conns;  // the loop thread's; under mu when touched from CloseIdle's flag

  void Run();
  void OnReadable(Conn& c);
  bool Flush(Conn& c);  // false: closed
  void Close(Conn& c, bool reset);
};

void RecordingUpstream::State::Close(Conn& c, bool reset) {
  if (c.fd < 0) return;
  if (reset) {
    linger l{1, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  }
  close(c.fd);
  c.fd = -1;
  std::lock_guard<std::mutex> lock(mu);
  --open;
  closed[c.id] = true;
}

bool RecordingUpstream::State::Flush(Conn& c) {
  while (!c.out.empty()) {
    const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      Close(c, false);
      return false;
    }
    c.out.erase(0, static_cast<std::size_t>(n));
  }
  if (c.after != Reply::After::kKeepOpen) {
    Close(c, c.after == Reply::After::kReset);
    return false;
  }
  return true;
}

void RecordingUpstream::State::OnReadable(Conn& c) {
  char buf[16384];
  const ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
    Close(c, false);
    return;
  }
  if (n < 0) return;
  const std::string_view data(buf, static_cast<std::size_t>(n));
  {
    std::lock_guard<std::mutex> lock(mu);
    received[c.id].append(data);
  }
  c.pending.append(data);
  for (;;) {
    if (!c.in_body) {
      const ParseResult head =
          ParseRequestHead(c.pending, HttpLimits{65536, 128, 65536}, *c.request);
      if (head.status == ParseResult::Status::kPartial) return;
      if (head.status == ParseResult::Status::kError) {
        {
          std::lock_guard<std::mutex> lock(mu);
          refused[c.id] = c.pending;
        }
        c.out += "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        c.after = Reply::After::kClose;
        return;
      }
      c.current = UpstreamRequest{};
      c.current.connection = c.id;
      c.current.index = c.requests;
      c.current.head = c.pending.substr(0, head.consumed);
      c.current.method = std::string(c.request->method);
      c.current.target = std::string(c.request->target);
      c.framer.Start(*c.request);
      c.pending.erase(0, head.consumed);
      {
        std::lock_guard<std::mutex> lock(mu);
        heads.push_back(c.current);
      }
      c.in_body = true;
      c.answered_early = false;
      if (early) {  // answered on its head alone, before (or without) its body
        c.answered_early = true;
        const Reply reply = early(c.current);
        if (!reply.silent) {
          c.out += reply.bytes;
          if (reply.after != Reply::After::kKeepOpen) c.after = reply.after;
        }
      }
    }
    const BodyFramer::Result body = c.framer.Feed(c.pending);
    c.current.body.append(c.pending, 0, body.consumed);
    c.pending.erase(0, body.consumed);
    if (body.status == BodyFramer::Status::kNeedMore) return;
    if (body.status == BodyFramer::Status::kError) {
      std::lock_guard<std::mutex> lock(mu);
      refused[c.id] = c.current.body + c.pending;
      c.after = Reply::After::kClose;
      return;
    }
    c.in_body = false;
    ++c.requests;
    {
      std::lock_guard<std::mutex> lock(mu);
      requests.push_back(c.current);
    }
    if (!c.answered_early) {
      const Reply reply = script(c.current);
      if (!reply.silent) {
        c.out += reply.bytes;
        if (reply.after != Reply::After::kKeepOpen) c.after = reply.after;
      }
    }
    if (c.after != Reply::After::kKeepOpen) return;
  }
}

void RecordingUpstream::State::Run() {
  while (!stop.load(std::memory_order_relaxed)) {  // relaxed: the wake pipe orders the stop
    std::vector<pollfd> fds;
    fds.push_back({listen_fd, POLLIN, 0});
    fds.push_back({wake[0], POLLIN, 0});
    for (const Conn& c : conns) {
      fds.push_back({c.fd, static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
    }
    if (poll(fds.data(), fds.size(), 50) < 0 && errno != EINTR) return;
    if ((fds[1].revents & POLLIN) != 0) {
      char drain[64];
      while (read(wake[0], drain, sizeof(drain)) > 0) {
      }
    }
    bool close_idle_now = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      close_idle_now = close_idle;
      close_idle = false;
    }
    for (std::size_t i = 0; i < conns.size(); ++i) {
      Conn& c = conns[i];
      const short revents = fds[i + 2].revents;
      if (c.fd >= 0 && (revents & (POLLIN | POLLHUP | POLLERR)) != 0) OnReadable(c);
      if (c.fd >= 0 && (!c.out.empty() || c.after != Reply::After::kKeepOpen)) Flush(c);
      if (c.fd >= 0 && close_idle_now && !c.in_body && c.pending.empty() && c.out.empty()) {
        Close(c, false);
      }
    }
    std::erase_if(conns, [](const Conn& c) { return c.fd < 0; });
    if ((fds[0].revents & POLLIN) != 0) {
      for (;;) {
        const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        Conn c;
        c.fd = fd;
        {
          std::lock_guard<std::mutex> lock(mu);
          c.id = received.size();
          received.emplace_back();
          refused.emplace_back();
          closed.push_back(false);
          ++open;
        }
        conns.push_back(std::move(c));
      }
    }
  }
  for (Conn& c : conns) Close(c, false);
}

RecordingUpstream::RecordingUpstream(Script script, bool ipv6, Script early)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.script = std::move(script);
  s.early = std::move(early);
  s.ipv6 = ipv6;
  s.listen_fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.listen_fd < 0) return;
  const int one = 1;
  setsockopt(s.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (ipv6) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
    a6->sin6_family = AF_INET6;
    a6->sin6_addr = in6addr_loopback;
    len = sizeof(*a6);
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
    a4->sin_family = AF_INET;
    a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(*a4);
  }
  if (bind(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      listen(s.listen_fd, 128) != 0 ||
      getsockname(s.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      pipe2(s.wake, O_NONBLOCK | O_CLOEXEC) != 0) {
    close(s.listen_fd);
    s.listen_fd = -1;
    return;
  }
  s.port = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                      : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  s.thread = std::thread([&s] { s.Run(); });
}

RecordingUpstream::~RecordingUpstream() {
  State& s = *state_;
  s.stop.store(true, std::memory_order_relaxed);
  if (s.wake[1] >= 0) {
    const char b = 0;
    [[maybe_unused]] const ssize_t w = write(s.wake[1], &b, 1);
  }
  if (s.thread.joinable()) s.thread.join();
  if (s.listen_fd >= 0) close(s.listen_fd);
  for (const int fd : s.wake) {
    if (fd >= 0) close(fd);
  }
}

bool RecordingUpstream::ok() const { return state_->port != 0; }
std::uint16_t RecordingUpstream::port() const { return state_->port; }
std::string RecordingUpstream::address() const {
  return (state_->ipv6 ? "[::1]:" : "127.0.0.1:") + std::to_string(state_->port);
}

std::vector<std::string> RecordingUpstream::Received() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->received;
}
std::vector<UpstreamRequest> RecordingUpstream::Requests() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->requests;
}
std::size_t RecordingUpstream::accepted() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->received.size();
}
std::size_t RecordingUpstream::open() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->open;
}
std::vector<UpstreamRequest> RecordingUpstream::Heads() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->heads;
}
bool RecordingUpstream::closed(std::size_t connection) const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return connection < state_->closed.size() && state_->closed[connection];
}
std::vector<std::string> RecordingUpstream::Refused() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->refused;
}

void RecordingUpstream::CloseIdle() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->close_idle = true;
  }
  const char b = 0;
  [[maybe_unused]] const ssize_t w = write(state_->wake[1], &b, 1);
  WaitFor([this] {
    std::lock_guard<std::mutex> lock(state_->mu);
    return !state_->close_idle;
  });
}

bool RecordingUpstream::WaitFor(const std::function<bool()>& condition,
                                std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::string H11Parse(const std::string& bytes) {
  if (access("/usr/bin/python3", X_OK) != 0) return "";
  char in_path[] = "/tmp/sluice-h11-in-XXXXXX";
  const int in_fd = mkstemp(in_path);
  if (in_fd < 0) return "";
  const bool written =
      write(in_fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  close(in_fd);
  std::string out;
  if (written) {
    const std::string command = "/usr/bin/python3 " SLUICE_E2E_DIR "/h11_oracle.py < " +
                                std::string(in_path) + " 2>/dev/null";
    if (FILE* pipe = popen(command.c_str(), "r")) {
      char buf[4096];
      std::size_t n = 0;
      while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
      if (pclose(pipe) != 0) out.clear();  // no h11: the caller skips
    }
  }
  unlink(in_path);
  return out;
}

std::string SluiceParse(const std::string& bytes) {
  auto request = std::make_unique<HttpRequest>();
  std::string out;
  std::string_view rest = bytes;
  while (!rest.empty()) {
    const ParseResult head = ParseRequestHead(rest, HttpLimits{65536, 128, 65536}, *request);
    if (head.status == ParseResult::Status::kPartial) return out + "incomplete\n";
    if (head.status == ParseResult::Status::kError) {
      return out + "error: " + std::string(net::LabelFor(head.error)) + "\n";
    }
    out += std::string(request->method) + " " + std::string(request->target) + " HTTP/1." +
           std::to_string(request->minor_version) + "\n";
    for (std::size_t i = 0; i < request->header_count; ++i) {
      std::string name(request->headers[i].name);
      for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      out += name + ": " + std::string(request->headers[i].value) + "\n";
    }
    rest.remove_prefix(head.consumed);
    // The body's data: Content-Length bytes, or chunked data (decoded by hand from framing
    // BodyFramer has validated).
    BodyFramer framer;
    framer.Start(*request);
    const BodyFramer::Result body = framer.Feed(rest);
    if (body.status == BodyFramer::Status::kNeedMore) return out + "incomplete\n";
    if (body.status == BodyFramer::Status::kError) return out + "error: body\n";
    std::string data;
    std::string trailers;
    std::string_view framed = rest.substr(0, body.consumed);
    if (request->body == net::BodyKind::kContentLength) {
      data = std::string(framed);
    } else if (request->body == net::BodyKind::kChunked) {
      for (;;) {
        const std::size_t line_end = framed.find("\r\n");
        const std::uint64_t size =
            std::stoull(std::string(framed.substr(0, line_end)), nullptr, 16);
        framed.remove_prefix(line_end + 2);
        if (size == 0) break;
        data.append(framed.substr(0, size));
        framed.remove_prefix(size + 2);
      }
      while (framed.size() > 2) {
        const std::size_t line_end = framed.find("\r\n");
        const std::string_view line = framed.substr(0, line_end);
        const std::size_t colon = line.find(':');
        std::string name(line.substr(0, colon));
        for (char& c : name) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
          value.remove_prefix(1);
        }
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
          value.remove_suffix(1);
        }
        trailers += "trailer " + name + ": " + std::string(value) + "\n";
        framed.remove_prefix(line_end + 2);
      }
    }
    out += "body: " + Hex(data) + "\n" + trailers + "end\n";
    rest.remove_prefix(body.consumed);
  }
  return out;
}

}  // namespace sluice::e2e
