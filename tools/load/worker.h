// sluice-load's workers: each thread owns its connections, an epoll set, a histogram and its
// counters, and shares nothing with the others until the run ends.
//
// Closed loop: a connection with nothing in flight writes `pipeline` requests in one send and
// waits for all their responses (wrk's pipelining). Latency runs from that send.
// Open loop (--rate): the thread sends on a fixed schedule, request i intended at
// start + i * interval, on any connection with fewer than `pipeline` requests in flight. A
// request sent late keeps its intended time, and latency runs from it, so a stalled server
// shows up as latency instead of as fewer requests (no coordinated omission).
#ifndef SLUICE_TOOLS_LOAD_WORKER_H_
#define SLUICE_TOOLS_LOAD_WORKER_H_

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "load/histogram.h"
#include "load/keys.h"

namespace sluice::load {

inline constexpr std::size_t kCacheLine = 64;

enum class ErrorKind : std::uint8_t {
  kConnect,  // connect() failed or was refused
  kRead,     // recv() failed (reset, ...)
  kWrite,    // send() failed
  kClosed,   // the server closed with requests in flight (each one counts)
  kParse,    // a response sluice-load cannot frame
  kTimeout,  // still in flight when a --requests run gave up waiting
};
inline constexpr std::size_t kErrorKinds = 6;
const char* ErrorName(ErrorKind kind) noexcept;

inline constexpr int kMaxStatus = 600;

struct RunOptions {
  sockaddr_storage address{};
  socklen_t address_length = 0;
  std::string request_prefix;  // up to and including "NAME: " of the key header
  std::string request_suffix;  // "\r\n\r\n" (or "\r\n" when there is no key header)
  const KeyDistribution* keys = nullptr;
  unsigned pipeline = 1;
  std::chrono::nanoseconds duration{0};  // 0: until `requests` are answered
  // How long to wait for the last answers of a --requests run, and for a first connection.
  std::chrono::nanoseconds drain_timeout{std::chrono::seconds(5)};
  std::uint64_t seed = 1;
};

// What one thread did, merged by the caller.
struct WorkerResult {
  Histogram latency;
  std::array<std::uint64_t, kMaxStatus> status{};  // [0]: out of range
  std::array<std::uint64_t, kErrorKinds> errors{};
  std::uint64_t sent = 0;
  std::uint64_t completed = 0;
};

// Live counters for the progress line: written by one worker (relaxed stores: a progress line
// tolerates a stale value), read by the main thread.
struct alignas(kCacheLine) Progress {
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> errors{0};
};

// Runs one worker until its duration passes, its `requests` (0: no limit) are done, or `stop`
// is set. `rate` is this thread's requests/s (0: closed loop). `start` is the common start.
WorkerResult RunWorker(const RunOptions& options, unsigned connections, std::uint64_t requests,
                       double rate, std::chrono::steady_clock::time_point start,
                       const std::atomic<bool>& stop, Progress& progress, unsigned index);

}  // namespace sluice::load

#endif  // SLUICE_TOOLS_LOAD_WORKER_H_
