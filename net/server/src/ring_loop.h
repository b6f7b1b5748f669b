// The ring plumbing of a shard: its io_uring, the receive buffer ring, connection slots, and
// every socket operation (accept, receive, send, shutdown, close), timers and the stop. What
// the received bytes become is the Pipeline's (pipeline.h): this file knows nothing of HTTP
// but the Effects the pipeline returns. The loop is in ring_loop.cc, connection lifetimes
// (linger, close, sweep, stop) in ring_close.cc.
#ifndef SLUICE_NET_SRC_RING_LOOP_H_
#define SLUICE_NET_SRC_RING_LOOP_H_

#include <liburing.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "pipeline.h"
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
inline constexpr std::int64_t kSweepNs = 250'000'000;
inline constexpr std::int64_t kLingerNs = 2'000'000'000;
inline constexpr std::int64_t kDrainNs = 5'000'000'000;
inline constexpr std::int64_t kAcceptBackoffNs = 100'000'000;

// One connection slot: the ring's state of the socket; `http` is the pipeline's.
struct Shard::Connection {
  int fd = -1;
  std::uint32_t generation = 0;
  std::uint32_t next_free = 0;
  bool recv_armed = false;
  bool recv_stopped = false;  // reading stopped on purpose: output backed up
  bool rearm_queued = false;  // on the re-arm list of this pass
  bool dirty = false;         // on the send list of this pass
  bool send_in_flight = false;
  bool peer_eof = false;   // the client half-closed: answer what it sent, then close
  bool lingering = false;  // SHUT_WR sent, draining the client's last bytes
  // The shutdown may run in an io-wq worker that looks the fd up only then: closing before it
  // completes could let it shut down the next connection given the same fd number.
  bool shutdown_in_flight = false;
  bool killing = false;
  bool close_submitted = false;
  bool throttled = false;  // single-shot receives until input and output have drained
  std::int64_t last_activity = 0;
  std::int64_t last_send_progress = 0;
  std::int64_t linger_started = 0;
  Stream http;
};

// Lives on the shard thread's stack; owns the ring.
class Shard::Loop {
 public:
  explicit Loop(Shard& shard);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  absl::Status Init();
  void Run();

  // The answer promised to connection `stream_id` (a Forwarder's, pipeline.h), on the shard
  // thread. A connection that closed meanwhile (another generation in its slot) is ignored.
  void Complete(std::uint64_t stream_id, std::string_view answer, bool keep_alive);

 private:
  // The loop and the socket operations (ring_loop.cc).
  io_uring_sqe* Sqe();
  void ArmAccept();
  void ArmRecv(Connection& c, std::uint32_t slot);
  void ArmWake();
  void Handle(const io_uring_cqe& cqe);
  void OnAccept(int fd);
  void OnRecv(const io_uring_cqe& cqe, Connection& c, std::uint32_t slot);
  void OnSend(int res, Connection& c, std::uint32_t slot);
  // Does what the pipeline asked for after an event of `c`.
  void Apply(Connection& c, std::uint32_t slot, const Effects& effects);
  void QueueRearm(Connection& c, std::uint32_t slot);
  void MarkDirty(Connection& c, std::uint32_t slot);
  void FlushSends();
  void RecycleBuffer(std::uint16_t bid);
  void SwitchRuntime();
  Connection* Lookup(std::uint64_t ud);

  // Connection lifetimes (ring_close.cc).
  void PauseRecv(Connection& c, std::uint32_t slot);
  void BeginLinger(Connection& c, std::uint32_t slot);
  void Kill(Connection& c, std::uint32_t slot);
  void MaybeFinishClose(Connection& c, std::uint32_t slot);
  // After the client half-closed: close once nothing is left to answer or send.
  void CloseIfDoneAfterEof(Connection& c, std::uint32_t slot);
  void Release(std::uint32_t slot);
  void Sweep();
  void BeginStop();

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
  const Runtime* runtime_ = nullptr;
  Pipeline pipeline_;
  std::int64_t now_ = 0;
  std::int64_t next_sweep_ = 0;
  std::int64_t accept_backoff_until_ = 0;
  std::int64_t drain_deadline_ = 0;
  bool accept_armed_ = false;
  bool stopping_ = false;
  bool listener_open_ = true;
  std::uint64_t wake_value_ = 0;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_SRC_RING_LOOP_H_
