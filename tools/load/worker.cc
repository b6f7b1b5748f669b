#include "load/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "load/response.h"

namespace sluice::load {

const char* ErrorName(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::kConnect:
      return "connect";
    case ErrorKind::kRead:
      return "read";
    case ErrorKind::kWrite:
      return "write";
    case ErrorKind::kClosed:
      return "closed";
    case ErrorKind::kParse:
      return "parse";
    case ErrorKind::kTimeout:
      return "timeout";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t NowNs() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t ToNs(Clock::time_point t) noexcept {
  // steady_clock is CLOCK_MONOTONIC on Linux (libstdc++), the clock NowNs() reads.
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

constexpr std::size_t kReadBuffer = 256 * 1024;
constexpr std::uint64_t kReconnectDelayNs = 10'000'000;

struct Connection {
  int fd = -1;
  bool connecting = false;
  bool want_write = false;     // EPOLLOUT registered
  std::uint64_t retry_at = 0;  // closed: when to reconnect
  std::string out;             // bytes not yet sent
  std::size_t out_offset = 0;
  std::string partial;  // the start of a response that has not fully arrived
  // Send (or intended) times of the requests in flight, oldest first: a ring of `pipeline`.
  std::vector<std::uint64_t> in_flight;
  std::size_t head = 0;
  std::size_t count = 0;
};

class Worker {
 public:
  Worker(const RunOptions& options, unsigned connections, std::uint64_t requests, double rate,
         Clock::time_point start, const std::atomic<bool>& stop, Progress& progress, unsigned index)
      : options_(options),
        connections_(connections),
        quota_(requests),
        interval_ns_(rate > 0 ? 1e9 / rate : 0),
        start_ns_(ToNs(start)),
        stop_(stop),
        progress_(progress),
        rng_(options.seed * 0x9e3779b97f4a7c15ULL + index),
        buffer_(new char[kReadBuffer]) {
    for (auto& c : connections_) c.in_flight.assign(options.pipeline, 0);
    if (options.duration.count() > 0) {
      deadline_ns_ = start_ns_ + static_cast<std::uint64_t>(options.duration.count());
    }
  }
  ~Worker() {
    for (auto& c : connections_) {
      if (c.fd >= 0) ::close(c.fd);
    }
    if (epoll_ >= 0) ::close(epoll_);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  WorkerResult Run();

 private:
  bool Done(std::uint64_t now) const noexcept {
    if (stop_.load(std::memory_order_relaxed)) return true;  // a flag, orders nothing
    if (deadline_ns_ != 0 && now >= deadline_ns_) return true;
    // Nothing ever connected within the drain timeout: give up rather than retry forever.
    if (!ever_connected_ &&
        now >= start_ns_ + static_cast<std::uint64_t>(options_.drain_timeout.count())) {
      return true;
    }
    if (quota_ != 0 && result_.sent >= quota_) {
      return result_.completed + Failed() >= quota_ || now >= drain_deadline_ns_;
    }
    return false;
  }
  std::uint64_t Failed() const noexcept { return failed_in_flight_; }
  bool MaySend() const noexcept { return quota_ == 0 || result_.sent < quota_; }

  void Connect(Connection& c, std::uint64_t now);
  void Close(Connection& c, std::uint64_t now, ErrorKind why);
  void Error(ErrorKind kind) noexcept { ++result_.errors[static_cast<std::size_t>(kind)]; }
  void Append(Connection& c, std::uint64_t stamp);
  void Flush(Connection& c, std::uint64_t now);
  void OnReadable(Connection& c);
  void OnWritable(Connection& c, std::uint64_t now);
  void SendClosedLoop(Connection& c, std::uint64_t now);
  bool SendOpenLoop(std::uint64_t now);  // false: every connection is full
  void SetWantWrite(Connection& c, bool want);

  const RunOptions& options_;
  std::vector<Connection> connections_;
  const std::uint64_t quota_;
  const double interval_ns_;
  const std::uint64_t start_ns_;
  std::uint64_t deadline_ns_ = 0;
  std::uint64_t drain_deadline_ns_ = UINT64_MAX;
  const std::atomic<bool>& stop_;
  Progress& progress_;
  Rng rng_;
  std::unique_ptr<char[]> buffer_;
  int epoll_ = -1;
  WorkerResult result_;
  bool ever_connected_ = false;
  std::uint64_t failed_in_flight_ = 0;  // requests lost with a connection (counted as errors)
  std::uint64_t scheduled_ = 0;         // open loop: requests whose intended time was handed out
  std::size_t next_connection_ = 0;     // open loop: round robin
};

void Worker::SetWantWrite(Connection& c, bool want) {
  if (c.want_write == want) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
  ev.data.u64 = static_cast<std::uint64_t>(&c - connections_.data());
  epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
  c.want_write = want;
}

void Worker::Connect(Connection& c, std::uint64_t now) {
  c.fd = ::socket(options_.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    Error(ErrorKind::kConnect);
    c.retry_at = now + kReconnectDelayNs;
    return;
  }
  const int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const int rc = ::connect(c.fd, reinterpret_cast<const sockaddr*>(&options_.address),
                           options_.address_length);
  if (rc < 0 && errno != EINPROGRESS) {
    ::close(c.fd);
    c.fd = -1;
    Error(ErrorKind::kConnect);
    c.retry_at = now + kReconnectDelayNs;
    return;
  }
  c.connecting = true;
  c.want_write = true;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.u64 = static_cast<std::uint64_t>(&c - connections_.data());
  epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
}

void Worker::Close(Connection& c, std::uint64_t now, ErrorKind why) {
  if (c.count > 0) {
    result_.errors[static_cast<std::size_t>(ErrorKind::kClosed)] += c.count;
    failed_in_flight_ += c.count;
  }
  if (why != ErrorKind::kClosed) Error(why);  // an idle keep-alive close is no error
  ::close(c.fd);                              // also leaves the epoll set
  c.fd = -1;
  c.connecting = false;
  c.want_write = false;
  c.out.clear();
  c.out_offset = 0;
  c.partial.clear();
  c.head = 0;
  c.count = 0;
  c.retry_at = now + (why == ErrorKind::kClosed ? 0 : kReconnectDelayNs);
}

void Worker::Append(Connection& c, std::uint64_t stamp) {
  const std::size_t key = options_.keys->Draw(rng_);
  c.out.append(options_.request_prefix);
  c.out.append(options_.keys->Key(key));
  c.out.append(options_.request_suffix);
  c.in_flight[(c.head + c.count) % options_.pipeline] = stamp;
  ++c.count;
  ++result_.sent;
}

void Worker::Flush(Connection& c, std::uint64_t now) {
  while (c.out_offset < c.out.size()) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.out_offset, c.out.size() - c.out_offset,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        SetWantWrite(c, true);
        return;
      }
      if (errno == EINTR) continue;
      Close(c, now, ErrorKind::kWrite);
      return;
    }
    c.out_offset += static_cast<std::size_t>(n);
  }
  c.out.clear();
  c.out_offset = 0;
  SetWantWrite(c, false);
}

void Worker::SendClosedLoop(Connection& c, std::uint64_t now) {
  if (c.fd < 0 || c.connecting || c.count != 0) return;
  for (unsigned i = 0; i < options_.pipeline && MaySend(); ++i) Append(c, now);
  if (!c.out.empty()) Flush(c, now);
}

bool Worker::SendOpenLoop(std::uint64_t now) {
  const std::size_t n = connections_.size();
  bool room = true;
  while (MaySend()) {
    const std::uint64_t intended =
        start_ns_ + static_cast<std::uint64_t>(static_cast<double>(scheduled_) * interval_ns_);
    if (intended > now) break;
    // The next connection, round robin, with room for one more request.
    std::size_t tried = 0;
    for (; tried < n; ++tried) {
      Connection& c = connections_[next_connection_];
      next_connection_ = next_connection_ + 1 == n ? 0 : next_connection_ + 1;
      if (c.fd >= 0 && !c.connecting && c.count < options_.pipeline) {
        Append(c, intended);
        ++scheduled_;
        break;
      }
    }
    if (tried == n) {  // every connection is full: the backlog waits, its clock running
      room = false;
      break;
    }
  }
  for (auto& c : connections_) {
    if (c.fd >= 0 && !c.want_write && c.out_offset < c.out.size()) Flush(c, now);
  }
  return room;
}

void Worker::OnWritable(Connection& c, std::uint64_t now) {
  if (c.connecting) {
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      Close(c, now, ErrorKind::kConnect);
      return;
    }
    c.connecting = false;
    ever_connected_ = true;
    SetWantWrite(c, false);
    if (interval_ns_ == 0) SendClosedLoop(c, now);
    return;
  }
  Flush(c, now);
}

void Worker::OnReadable(Connection& c) {
  // The unfinished response (if any) goes first, then what the socket has.
  std::size_t have = c.partial.size();
  if (have > kReadBuffer / 2) {
    Close(c, NowNs(), ErrorKind::kParse);
    return;
  }
  std::memcpy(buffer_.get(), c.partial.data(), have);
  const ssize_t n = ::recv(c.fd, buffer_.get() + have, kReadBuffer - have, MSG_DONTWAIT);
  const std::uint64_t now = NowNs();
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    Close(c, now, n == 0 ? ErrorKind::kClosed : ErrorKind::kRead);
    return;
  }
  have += static_cast<std::size_t>(n);
  std::string_view data(buffer_.get(), have);
  bool close_after = false;
  while (!data.empty()) {
    const ResponseHead head = ParseResponse(data);
    if (head.result == ResponseHead::Result::kPartial) break;
    if (head.result == ResponseHead::Result::kError || c.count == 0) {
      Close(c, now, ErrorKind::kParse);
      return;
    }
    const std::uint64_t sent = c.in_flight[c.head];
    c.head = c.head + 1 == options_.pipeline ? 0 : c.head + 1;
    --c.count;
    ++result_.completed;
    ++result_.status[head.status < kMaxStatus ? static_cast<std::size_t>(head.status) : 0];
    result_.latency.Record(now > sent ? now - sent : 0);
    data.remove_prefix(head.length);
    if (head.close) {
      close_after = true;
      break;
    }
  }
  c.partial.assign(data.data(), data.size());
  if (close_after) {
    Close(c, now, ErrorKind::kClosed);
    return;
  }
  if (interval_ns_ == 0) SendClosedLoop(c, now);
}

WorkerResult Worker::Run() {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  if (interval_ns_ > 0) prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);  // wake on schedule
  std::uint64_t now = NowNs();
  for (auto& c : connections_) Connect(c, now);
  constexpr int kEvents = 256;
  epoll_event events[kEvents];
  while (true) {
    now = NowNs();
    if (quota_ != 0 && result_.sent >= quota_ && drain_deadline_ns_ == UINT64_MAX) {
      drain_deadline_ns_ = now + static_cast<std::uint64_t>(options_.drain_timeout.count());
    }
    if (Done(now)) break;
    // Reconnect closed connections whose delay has passed; note the earliest pending one.
    std::uint64_t wake = deadline_ns_ != 0 ? deadline_ns_ : UINT64_MAX;
    wake = std::min(wake, drain_deadline_ns_);
    for (auto& c : connections_) {
      if (c.fd >= 0) continue;
      if (c.retry_at <= now) {
        Connect(c, now);
      } else {
        wake = std::min(wake, c.retry_at);
      }
    }
    if (interval_ns_ > 0) {
      if (SendOpenLoop(now) && MaySend()) {
        const std::uint64_t next =
            start_ns_ + static_cast<std::uint64_t>(static_cast<double>(scheduled_) * interval_ns_);
        wake = std::min(wake, std::max(next, now + 1000));
      }
    }
    // At most 50 ms asleep, so a stop request is seen promptly.
    wake = std::min(wake, now + 50'000'000);
    const std::uint64_t wait_ns = wake > now ? wake - now : 0;
    timespec timeout{static_cast<time_t>(wait_ns / 1'000'000'000u),
                     static_cast<long>(wait_ns % 1'000'000'000u)};
    const int ready = epoll_pwait2(epoll_, events, kEvents, &timeout, nullptr);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < ready; ++i) {
      Connection& c = connections_[events[i].data.u64];
      if (c.fd < 0) continue;
      if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
        if (c.connecting || (events[i].events & EPOLLOUT)) OnWritable(c, NowNs());
      }
      if (c.fd >= 0 && !c.connecting && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
        OnReadable(c);
      }
    }
    progress_.completed.store(result_.completed, std::memory_order_relaxed);  // progress only
    std::uint64_t errors = 0;
    for (const auto e : result_.errors) errors += e;
    progress_.errors.store(errors, std::memory_order_relaxed);  // progress only
  }
  // A --requests run that gave up: what is still in flight timed out.
  if (quota_ != 0) {
    for (auto& c : connections_) {
      result_.errors[static_cast<std::size_t>(ErrorKind::kTimeout)] += c.count;
    }
  }
  progress_.completed.store(result_.completed, std::memory_order_relaxed);  // progress only
  return std::move(result_);
}

}  // namespace

WorkerResult RunWorker(const RunOptions& options, unsigned connections, std::uint64_t requests,
                       double rate, std::chrono::steady_clock::time_point start,
                       const std::atomic<bool>& stop, Progress& progress, unsigned index) {
  Worker worker(options, connections, requests, rate, start, stop, progress, index);
  return worker.Run();
}

}  // namespace sluice::load
