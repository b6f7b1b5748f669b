#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#ifndef SLUICED_PATH
#error "SLUICED_PATH must name the sluiced binary"
#endif

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24  // linux/in.h; older glibc headers lack it
#endif

namespace sluice::e2e {
namespace {

std::uint16_t PortAfter(const std::string& text, const std::string& marker) {
  const std::size_t at = text.find(marker);
  if (at == std::string::npos) return 0;
  const std::size_t end = text.find(' ', at + marker.size());
  const std::string addr = text.substr(at + marker.size(), end - at - marker.size());
  const std::size_t colon = addr.rfind(':');
  if (colon == std::string::npos) return 0;
  return static_cast<std::uint16_t>(std::atoi(addr.c_str() + colon + 1));
}

}  // namespace

Sluiced::Sluiced(const std::string& yaml, std::vector<std::string> extra_args,
                 StartOptions options) {
  char path[] = "/tmp/sluiced-e2e-XXXXXX.yaml";
  const int cfd = mkstemps(path, 5);
  if (cfd < 0) return;
  ::close(cfd);
  config_path_ = path;
  WriteConfig(yaml);

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return;
  std::vector<std::string> args = options.wrapper;
  args.insert(args.end(), {SLUICED_PATH, "--config", config_path_});
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_ = fork();
  if (pid_ == 0) {
    if (options.max_open_files != 0) {
      const rlimit limit{options.max_open_files, options.max_open_files};
      if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(126);
    }
    dup2(pipe_fds[1], 1);
    dup2(pipe_fds[1], 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());  // a wrapper is looked up on PATH
    _exit(127);
  }
  ::close(pipe_fds[1]);
  out_fd_ = pipe_fds[0];
  fcntl(out_fd_, F_SETFL, O_NONBLOCK);
  const auto deadline = std::chrono::steady_clock::now() + options.startup_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    DrainOutput();
    if (output_.find("admin on ") != std::string::npos) {
      port_ = PortAfter(output_, "listening on ");
      admin_port_ = PortAfter(output_, "admin on ");
      return;
    }
    if (Wait(std::chrono::milliseconds(0)).has_value()) {
      DrainOutput();
      return;
    }
    pollfd p{out_fd_, POLLIN, 0};
    ::poll(&p, 1, 50);
  }
}

Sluiced::~Sluiced() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  if (!config_path_.empty()) std::remove(config_path_.c_str());
}

bool Sluiced::io_uring_refused() const {
  return !ok() && (output_.find("io_uring") != std::string::npos);
}

void Sluiced::Signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> Sluiced::Wait(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    DrainOutput();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Sluiced::WriteConfig(const std::string& yaml) const {
  // Write a sibling file then rename: a reload never reads a half-written config.
  const std::string tmp = config_path_ + ".tmp";
  std::ofstream(tmp) << yaml;
  std::rename(tmp.c_str(), config_path_.c_str());
}

const std::string& Sluiced::DrainOutput() {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(out_fd_, buf, sizeof buf);
    if (n <= 0) break;
    output_.append(buf, static_cast<std::size_t>(n));
  }
  return output_;
}

long Sluiced::RssKib() const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

long Sluiced::OpenFds() const {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/" + std::to_string(pid_) + "/fd", ec);
  if (ec) return -1;
  long n = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return -1;
    ++n;
  }
  return n;
}

long Sluiced::CpuTicks() const {
  std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const std::size_t paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  // After the command name: state is field 3; utime and stime are fields 14 and 15.
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  long utime = 0;
  long stime = 0;
  for (int i = 3; i <= 15 && (fields >> field); ++i) {
    if (i == 14) utime = std::atol(field.c_str());
    if (i == 15) stime = std::atol(field.c_str());
  }
  return utime + stime;
}

bool Sluiced::Running() { return pid_ > 0 && !Wait(std::chrono::milliseconds(0)).has_value(); }

std::optional<std::string> Sluiced::Metrics() const {
  auto r = Get(admin_port_, Request("/metrics"));
  if (!r || r->status != 200) return std::nullopt;
  return r->body;
}

std::uint64_t Sluiced::Metric(const std::string& series) const {
  const auto body = Metrics();
  return body ? MetricSum(*body, series) : 0;
}

Client::Client(std::uint16_t port, std::chrono::milliseconds timeout, Family family,
               const std::string& source) {
  sockaddr_storage storage{};
  socklen_t len = 0;
  if (family == Family::kV6) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&storage);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    a6->sin6_addr = in6addr_loopback;
    len = sizeof *a6;
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&storage);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a4;
  }
  fd_ = ::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (!source.empty()) {
    // The port is chosen at connect(), per destination, as without bind().
    const int one = 1;
    setsockopt(fd_, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (family != Family::kV4 || inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
  }
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&storage), len) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

Client::~Client() { Close(); }

void Client::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Client::Reset() {
  if (fd_ < 0) return;
  const linger l{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  Close();
}

bool Client::Send(const std::string& data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

std::optional<Response> Client::Read() {
  for (;;) {
    const std::size_t end = buffer_.find("\r\n\r\n");
    if (end != std::string::npos) {
      Response r;
      std::istringstream head(buffer_.substr(0, end));
      std::string line;
      std::getline(head, line);
      if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12) return std::nullopt;
      r.status = std::atoi(line.c_str() + 9);
      while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const std::size_t colon = line.find(':');
        if (colon == std::string::npos) return std::nullopt;
        std::string name = line.substr(0, colon);
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::size_t v = colon + 1;
        while (v < line.size() && line[v] == ' ') ++v;
        r.headers[name] = line.substr(v);
      }
      const std::size_t length =
          static_cast<std::size_t>(std::atol(r.Header("content-length").c_str()));
      if (buffer_.size() >= end + 4 + length) {
        r.body = buffer_.substr(end + 4, length);
        buffer_.erase(0, end + 4 + length);
        return r;
      }
    }
    char buf[16384];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return std::nullopt;
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

bool Client::ReadsEof() {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

std::optional<std::string> Client::ReadToEof() {
  std::string all = std::move(buffer_);
  buffer_.clear();
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) return all;
    if (n < 0) {
      if (errno == ECONNRESET) return all;
      return std::nullopt;  // timeout (EAGAIN) or another error
    }
    all.append(buf, static_cast<std::size_t>(n));
  }
}

std::optional<Response> Get(std::uint16_t port, const std::string& raw_request) {
  Client c(port);
  if (!c.connected() || !c.Send(raw_request)) return std::nullopt;
  return c.Read();
}

std::string Request(const std::string& path, const std::string& extra_headers) {
  return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + extra_headers + "\r\n";
}

bool PollUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::uint64_t MetricSum(const std::string& text, const std::string& series) {
  const bool exact = series.find('{') != std::string::npos;
  std::uint64_t total = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    const std::string name = line.substr(0, space);
    const bool match = exact ? name == series
                             : (name == series || (name.size() > series.size() &&
                                                   name.compare(0, series.size(), series) == 0 &&
                                                   name[series.size()] == '{'));
    if (match) total += std::strtoull(line.c_str() + space + 1, nullptr, 10);
  }
  return total;
}

int StatusOf(std::uint16_t port, const std::string& raw_request) {
  const auto r = Get(port, raw_request);
  return r ? r->status : 0;
}

TempFile::TempFile() {
  char path[] = "/tmp/sluiced-e2e-XXXXXX";
  const int fd = mkstemp(path);
  if (fd >= 0) {
    ::close(fd);
    path_ = path;
  }
}

TempFile::~TempFile() {
  if (!path_.empty()) std::remove(path_.c_str());
}

std::vector<std::string> TempFile::Lines() const {
  std::vector<std::string> lines;
  std::ifstream in(path_);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> TempFile::WaitForLines(std::size_t count) const {
  std::vector<std::string> lines;
  PollUntil(
      [&] {
        lines = Lines();
        return lines.size() >= count;
      },
      std::chrono::seconds(10));
  return lines;
}

std::string JsonField(const std::string& line, const std::string& field) {
  const std::string marker = "\"" + field + "\":";
  const std::size_t at = line.find(marker);
  if (at == std::string::npos) return "";
  const std::size_t from = at + marker.size();
  std::size_t to = from;
  if (to < line.size() && line[to] == '"') {
    to = line.find('"', to + 1);
    return to == std::string::npos ? "" : line.substr(from, to + 1 - from);
  }
  while (to < line.size() && line[to] != ',' && line[to] != '}') ++to;
  return line.substr(from, to - from);
}

std::uint64_t WaitForMetric(const Sluiced& server, const std::string& series,
                            std::uint64_t at_least) {
  std::uint64_t value = 0;
  PollUntil(
      [&] {
        value = server.Metric(series);
        return value >= at_least;
      },
      std::chrono::seconds(10));
  return value;
}

std::string PolicySeries(const std::string& policy, const std::string& decision) {
  return "sluice_policy_decisions_total{policy=\"" + policy + "\",decision=\"" + decision + "\"}";
}

}  // namespace sluice::e2e
