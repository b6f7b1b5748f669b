// The inside of a shard: its connections, buffer pools and the io_uring loop. Private to
// shard.cc (ring plumbing: accept, receive, send, close, timers, stop) and shard_http.cc (what a
// received byte becomes: parsing, policies, answers).
#ifndef SLUICE_NET_SRC_SHARD_LOOP_H_
#define SLUICE_NET_SRC_SHARD_LOOP_H_

#include <liburing.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "shard.h"

namespace sluice::net {

// user_data of every SQE: operation (8 bits) | connection slot (24 bits) | slot generation
// (32 bits). The generation tells a completion for a connection from one for the next
// connection that reused its slot.
enum class Op : std::uint8_t {
  kAccept = 1,
  kRecv,
  kSend,
  kClose,
  kCloseRefused,
  kCancel,
  kShutdown,
  kWake
};
constexpr std::uint64_t UserData(Op op, std::uint32_t slot = 0, std::uint32_t gen = 0) {
  return (std::uint64_t{static_cast<std::uint8_t>(op)} << 56) |
         (std::uint64_t{slot & 0xffffffu} << 32) | gen;
}
constexpr Op OpOf(std::uint64_t ud) { return static_cast<Op>(ud >> 56); }
constexpr std::uint32_t SlotOf(std::uint64_t ud) {
  return static_cast<std::uint32_t>((ud >> 32) & 0xffffffu);
}
constexpr std::uint32_t GenOf(std::uint64_t ud) { return static_cast<std::uint32_t>(ud); }

inline constexpr unsigned kSqEntries = 4096;
inline constexpr unsigned kCqEntries = 16384;  // room for multishot bursts: 4 CQEs per SQE
inline constexpr std::uint16_t kBufferGroup = 1;
inline constexpr unsigned kRingBuffers = 256;  // power of two
inline constexpr unsigned kRingBufferBytes = 16384;
// Accepted sockets inherit the listener's receive buffer: a fixed size (no autotuning) keeps
// what a client can have queued at us small.
inline constexpr int kSocketReceiveBuffer = 64 * 1024;
// Unanswered pipelined input a connection may hold while its answers wait to be read. A
// multishot receive can pull more from the socket in one pass than we can answer before the
// output buffer fills; that input waits here (and the connection then receives one buffer at a
// time until it has caught up). Past this, the client is closed.
inline constexpr std::size_t kMaxPendingInput = std::size_t{1} << 20;
// Input and output buffers of all connections of a shard together stay under this; a
// connection that needs one more buffer beyond it is closed (and counted).
inline constexpr std::size_t kBufferBudgetBytes = std::size_t{512} << 20;
inline constexpr std::int64_t kSweepNs = 250'000'000;
inline constexpr std::int64_t kLingerNs = 2'000'000'000;
inline constexpr std::int64_t kDrainNs = 5'000'000'000;
inline constexpr std::int64_t kAcceptBackoffNs = 100'000'000;

// Fixed-size buffers handed to connections only while they hold unfinished input or unsent
// output: an idle connection holds none. Grows to the shard's peak concurrency, never past
// `max_buffers`, and reuses what it made (no allocation once the peak was reached).
class BufferPool {
 public:
  BufferPool(std::size_t buffer_bytes, std::size_t max_buffers)
      : bytes_(buffer_bytes), max_(max_buffers) {
    free_.reserve(max_);
    owned_.reserve(max_);
  }
  // nullptr when the budget is spent.
  char* Acquire() {
    if (!free_.empty()) {
      char* b = free_.back();
      free_.pop_back();
      return b;
    }
    if (owned_.size() >= max_) return nullptr;
    owned_.push_back(std::make_unique_for_overwrite<char[]>(bytes_));
    return owned_.back().get();
  }
  void Release(char* buffer) noexcept { free_.push_back(buffer); }  // never past reserve()
  [[nodiscard]] std::size_t bytes() const noexcept { return bytes_; }

 private:
  std::size_t bytes_;
  std::size_t max_;
  std::vector<char*> free_;
  std::vector<std::unique_ptr<char[]>> owned_;
};

struct Shard::Connection {
  int fd = -1;
  std::uint32_t generation = 0;
  std::uint32_t next_free = 0;
  bool recv_armed = false;
  bool recv_stopped = false;  // reading stopped on purpose: output backed up
  bool rearm_queued = false;  // on the re-arm list of this pass
  bool dirty = false;         // on the send list of this pass
  bool send_in_flight = false;
  bool close_after_send = false;  // our answer is final (error, Connection: close, stop)
  bool peer_eof = false;          // the client half-closed: answer what it sent, then close
  bool lingering = false;         // SHUT_WR sent, draining the client's last bytes
  // The shutdown may run in an io-wq worker that looks the fd up only then: closing before it
  // completes could let it shut down the next connection given the same fd number.
  bool shutdown_in_flight = false;
  bool killing = false;
  bool close_submitted = false;
  bool paused = false;     // no room to answer another request until a send completes
  bool throttled = false;  // single-shot receives until input and output have drained
  sockaddr_storage peer{};
  BodyFramer framer;
  char* in = nullptr;  // from an input pool while a head is unfinished or input waits
  std::uint32_t in_len = 0;
  std::uint32_t in_cap = 0;  // in_pool_ or big_in_pool_ buffer size
  char* out = nullptr;       // from the output pool while answers wait to be sent
  std::uint32_t out_start = 0;
  std::uint32_t out_len = 0;
  std::int64_t last_activity = 0;
  std::int64_t last_send_progress = 0;
  std::int64_t head_started = 0;  // a head (or the first one) is awaited since; 0: none
  std::int64_t linger_started = 0;
};

// Lives on the shard thread's stack; owns the ring.
class Shard::Loop {
 public:
  explicit Loop(Shard& shard) : shard_(shard), scratch_(1) {}
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  absl::Status Init();
  void Run();

 private:
  // Ring plumbing (shard.cc).
  io_uring_sqe* Sqe();
  void ArmAccept();
  void ArmRecv(Connection& c, std::uint32_t slot);
  void ArmWake();
  void Handle(const io_uring_cqe& cqe);
  void OnAccept(int fd);
  void OnRecv(const io_uring_cqe& cqe, Connection& c, std::uint32_t slot);
  void OnSend(int res, Connection& c, std::uint32_t slot);
  void QueueRearm(Connection& c, std::uint32_t slot);
  void MarkDirty(Connection& c, std::uint32_t slot);
  void FlushSends();
  void PauseRecv(Connection& c, std::uint32_t slot);
  void BeginLinger(Connection& c, std::uint32_t slot);
  void Kill(Connection& c, std::uint32_t slot);
  void MaybeFinishClose(Connection& c, std::uint32_t slot);
  void Release(std::uint32_t slot);
  void RecycleBuffer(std::uint16_t bid);
  void Sweep();
  void BeginStop();
  void SwitchRuntime();
  Connection* Lookup(std::uint64_t ud);

  // HTTP (shard_http.cc).
  void OnData(Connection& c, std::uint32_t slot, const char* data, std::size_t len);
  void Resume(Connection& c, std::uint32_t slot);
  std::size_t Drive(Connection& c, std::uint32_t slot, const char* p, std::size_t n);
  void Answer(Connection& c, std::uint32_t slot);
  void AnswerError(Connection& c, std::uint32_t slot, int status);
  void LogDecision(const Connection& c, const HttpRequest& req);
  bool KeepInput(Connection& c, std::uint32_t slot, const char* data, std::size_t len);
  void DropInputIfEmpty(Connection& c);
  void ReleaseInput(Connection& c);
  void DropOutputIfEmpty(Connection& c);
  // After the client half-closed: close once nothing is left to answer or send.
  void CloseIfDoneAfterEof(Connection& c, std::uint32_t slot);

  Shard& shard_;
  io_uring ring_{};
  bool ring_ready_ = false;
  io_uring_buf_ring* buf_ring_ = nullptr;
  char* buffers_ = nullptr;
  unsigned pending_buffers_ = 0;
  std::vector<Connection> conns_;
  std::uint32_t free_head_ = 0;
  std::uint32_t high_water_ = 0;  // slots [0, high_water_) have been used
  std::size_t active_ = 0;
  std::vector<std::uint32_t> dirty_;
  std::vector<std::uint32_t> rearm_;
  std::unique_ptr<BufferPool> in_pool_;
  std::unique_ptr<BufferPool> big_in_pool_;  // kMaxPendingInput buffers for deep pipelines
  std::unique_ptr<BufferPool> out_pool_;
  const Runtime* runtime_ = nullptr;
  const HttpLimits* limits_ = nullptr;
  std::size_t max_response_ = 0;
  KeyScratch scratch_;
  std::unique_ptr<HttpRequest> request_ = std::make_unique<HttpRequest>();
  EvalOutcome outcome_;
  DateCache date_;
  std::int64_t now_ = 0;
  std::int64_t unix_now_ = 0;
  std::int64_t next_sweep_ = 0;
  std::int64_t accept_backoff_until_ = 0;
  std::int64_t drain_deadline_ = 0;
  bool accept_armed_ = false;
  bool stopping_ = false;
  bool listener_open_ = true;
  std::uint64_t wake_value_ = 0;
  std::uint64_t rng_ = 0x9E3779B97F4A7C15ULL;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_SRC_SHARD_LOOP_H_
