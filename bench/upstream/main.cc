// sluice-upstream: the cheap upstream behind every proxy in bench/compare/proxy. One thread, one
// epoll set, non-blocking sockets; every request head gets the same fixed answer, pipelined
// requests read in one recv are answered in one send. It counts what a pool-reuse figure needs:
// connections accepted and requests answered, served as JSON on `GET /__stats` (those requests
// and their connections are not counted). It is a benchmark fixture, not a server: it frames
// requests by their head and Content-Length only and closes a connection on anything else
// (Transfer-Encoding, a head over 16 KiB).
//   sluice-upstream [--listen 127.0.0.1:0] [--body BYTES]
// prints "listening on HOST:PORT" once it accepts, and exits 0 on SIGTERM or SIGINT.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::size_t kInput = 16 * 1024;  // one request head must fit

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

struct Connection {
  int fd = -1;
  bool stats = false;       // it asked for /__stats: not counted
  bool want_write = false;  // EPOLLOUT armed after a short send
  bool closing = false;     // close once the queued answers are sent
  std::size_t have = 0;
  std::uint64_t body_left = 0;  // request body bytes still to skip
  std::string out;
  std::size_t out_offset = 0;
  char in[kInput];
};

struct Counters {
  std::uint64_t accepted = 0;
  std::uint64_t requests = 0;
};

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

// Finds Content-Length in a head (false: a framing this fixture refuses).
bool BodyLength(std::string_view head, std::uint64_t& length) {
  length = 0;
  std::size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    const std::size_t start = pos + 2;
    const std::size_t end = head.find("\r\n", start);
    if (end == std::string_view::npos) break;
    const std::string_view line = head.substr(start, end - start);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      const std::string_view name = line.substr(0, colon);
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      if (IEquals(name, "transfer-encoding")) return false;
      if (IEquals(name, "content-length")) {
        std::uint64_t n = 0;
        for (const char ch : value) {
          if (ch < '0' || ch > '9') break;
          n = n * 10 + static_cast<std::uint64_t>(ch - '0');
        }
        length = n;
      }
    }
    pos = end;
  }
  return true;
}

class Upstream {
 public:
  Upstream(int listener, std::string answer)
      : listener_(listener), answer_(std::move(answer)), epoll_(epoll_create1(EPOLL_CLOEXEC)) {}

  int Run() {
    Watch(listener_, EPOLLIN, nullptr);
    std::vector<epoll_event> events(256);
    while (g_stop == 0) {
      const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 200);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("sluice-upstream: epoll_wait");
        return 1;
      }
      for (int i = 0; i < n; ++i) {
        auto* c = static_cast<Connection*>(events[static_cast<std::size_t>(i)].data.ptr);
        const std::uint32_t what = events[static_cast<std::size_t>(i)].events;
        if (c == nullptr) {
          Accept();
          continue;
        }
        if ((what & EPOLLOUT) != 0U && !Flush(*c)) continue;
        if ((what & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0U) Read(*c);
      }
    }
    return 0;
  }

 private:
  void Watch(int fd, std::uint32_t events, Connection* c) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = c;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  }

  void Accept() {
    for (;;) {
      const int fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto* c = new Connection;  // per connection, never per request
      c->fd = fd;
      ++counters_.accepted;
      Watch(fd, EPOLLIN, c);
    }
  }

  void Close(Connection& c) {
    close(c.fd);  // also leaves the epoll set
    delete &c;
  }

  void Read(Connection& c) {
    const ssize_t n = recv(c.fd, c.in + c.have, kInput - c.have, 0);
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      Close(c);
      return;
    }
    c.have += static_cast<std::size_t>(n);
    std::size_t used = 0;
    bool close_after = false;
    while (used < c.have) {
      if (c.body_left > 0) {
        const std::size_t skip =
            static_cast<std::size_t>(std::min<std::uint64_t>(c.body_left, c.have - used));
        c.body_left -= skip;
        used += skip;
        continue;
      }
      const std::string_view rest(c.in + used, c.have - used);
      const std::size_t end = rest.find("\r\n\r\n");
      if (end == std::string_view::npos) break;
      const std::string_view head = rest.substr(0, end + 2);
      used += end + 4;
      if (!BodyLength(head, c.body_left)) {  // refused: answer what came before, then close
        close_after = true;
        used = c.have;
        break;
      }
      if (head.substr(0, 13) == "GET /__stats ") {
        if (!c.stats) {
          c.stats = true;
          --counters_.accepted;
        }
        Stats(c.out);
        close_after = true;
        break;
      }
      ++counters_.requests;
      c.out.append(answer_);
    }
    if (used < c.have) std::memmove(c.in, c.in + used, c.have - used);
    c.have -= used;
    if (c.have == kInput) {  // a head too large for this fixture
      Close(c);
      return;
    }
    c.closing = close_after;
    Flush(c);
  }

  void Stats(std::string& out) const {
    char body[128];
    const int len = std::snprintf(body, sizeof body, "{\"accepted\":%llu,\"requests\":%llu}\n",
                                  static_cast<unsigned long long>(counters_.accepted),
                                  static_cast<unsigned long long>(counters_.requests));
    out.append("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n");
    out.append("Content-Length: ").append(std::to_string(len)).append("\r\n\r\n");
    out.append(body, static_cast<std::size_t>(len));
  }

  // Sends what is queued; false if the connection was closed (an error, or all sent and
  // `closing`). A short send waits for EPOLLOUT.
  bool Flush(Connection& c) {
    while (c.out_offset < c.out.size()) {
      const ssize_t n =
          send(c.fd, c.out.data() + c.out_offset, c.out.size() - c.out_offset, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) {
          if (!c.want_write) Rearm(c, true);
          return true;
        }
        Close(c);
        return false;
      }
      c.out_offset += static_cast<std::size_t>(n);
    }
    c.out.clear();
    c.out_offset = 0;
    if (c.closing) {
      Close(c);
      return false;
    }
    if (c.want_write) Rearm(c, false);
    return true;
  }

  void Rearm(Connection& c, bool want_write) {
    c.want_write = want_write;
    epoll_event ev{};
    ev.events = want_write ? EPOLLIN | EPOLLOUT : EPOLLIN;
    ev.data.ptr = &c;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  int listener_;
  std::string answer_;
  int epoll_;
  Counters counters_;
};

bool ParseListen(const char* text, sockaddr_in& address) {
  const std::string s(text);
  const std::size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  address = sockaddr_in{};
  address.sin_family = AF_INET;
  if (inet_pton(AF_INET, s.substr(0, colon).c_str(), &address.sin_addr) != 1) return false;
  char* end = nullptr;
  const long port = std::strtol(s.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) return false;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const char* listen_at = "127.0.0.1:0";
  long body = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if ((arg == "--listen" || arg == "--body") && i + 1 < argc) {
      if (arg == "--listen") {
        listen_at = argv[++i];
      } else {
        body = std::strtol(argv[++i], nullptr, 10);
      }
    } else {
      std::fprintf(stderr,
                   "usage: sluice-upstream [--listen HOST:PORT] [--body BYTES]\n"
                   "  answers every request 200 with a BYTES-long body (default 2); GET /__stats:\n"
                   "  connections accepted and requests answered, as JSON\n");
      return arg == "--help" ? 0 : 2;
    }
  }
  sockaddr_in address{};
  if (!ParseListen(listen_at, address) || body < 0 || body > (1L << 24)) {
    std::fprintf(stderr, "sluice-upstream: bad --listen or --body\n");
    return 2;
  }
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(listener, 4096) != 0) {
    std::perror("sluice-upstream: bind/listen");
    return 1;
  }
  socklen_t len = sizeof address;
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &len);
  char host[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &address.sin_addr, host, sizeof host);

  std::string answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ";
  answer.append(std::to_string(body)).append("\r\n\r\n");
  answer.append(static_cast<std::size_t>(body), 'x');

  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::printf("listening on %s:%u\n", host, static_cast<unsigned>(ntohs(address.sin_port)));
  std::fflush(stdout);
  Upstream upstream(listener, std::move(answer));
  return upstream.Run();
}
