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
#include <memory>
#include <string_view>
#include <vector>

#include "pipeline.h"
#include "shard.h"
#include "sluice/net/http/retry.h"
#include "sluice/net/proxy/balancer.h"
#include "sluice/net/proxy/body_relay.h"
#include "sluice/net/proxy/idle_pool.h"
#include "sluice/net/proxy/plan.h"
#include "upstream_conn.h"

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
  kWake,
  // Proxy mode: the slot is an upstream connection's (upstream_conn.h), not a client's.
  kUpConnect,
  kUpConnectTimeout,  // the LINK_TIMEOUT behind a connect (its own result is not needed)
  kUpSend,
  kUpRecv,
  kUpClose
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
  int fd = -1;  // a registered file's index when `direct`
  bool direct = false;
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
  // Proxy mode: the upstream connection carrying this client's forwarded request, and the
  // relay of that request's body (which outlives the exchange if the answer came early).
  std::uint32_t up = kNoUpstream;
  BodyRelay body;
};

// Lives on the shard thread's stack; owns the ring. In proxy mode it is also the pipeline's
// Forwarder: it owns the upstream connections (ring_upstream.cc) and runs the exchanges
// (ring_forward.cc).
class Shard::Loop final : public Forwarder {
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

  // Forwarder (ring_forward.cc).
  Verdict Forward(std::uint64_t stream_id, const HttpRequest& request,
                  const EvalOutcome& outcome) noexcept override;
  BodyFeed Body(std::uint64_t stream_id, std::string_view bytes) noexcept override;

 private:
  // One upstream server of the plan in force, on this shard.
  struct ServerSlot {
    UpstreamServer server;
    std::uint32_t upstream = 0;  // index into the plan's upstreams
    IdlePool pool;
  };

  // Proxy mode: upstream sockets on the ring (ring_upstream.cc).
  void SetupProxy();
  UpstreamConn* LookupUp(std::uint64_t ud);
  void HandleUpstream(const io_uring_cqe& cqe);
  // A connection to server `server` for a new attempt: the newest idle one of its pool, or a
  // fresh socket (connect submitted). kNoUpstream when none can be had.
  std::uint32_t TakeUpstream(std::uint32_t server, bool& reused);
  // `idle`: no answer byte can be waiting yet (a fresh or pooled connection), so the receive
  // waits for readiness first instead of trying (and failing) a read at once.
  void ArmUpRecv(UpstreamConn& u, std::uint32_t slot, bool idle = false);
  void MarkUpDirty(UpstreamConn& u, std::uint32_t slot);
  void FlushUpSends();
  void OnUpConnect(int res, UpstreamConn& u, std::uint32_t slot);
  void OnUpSend(int res, UpstreamConn& u, std::uint32_t slot);
  void OnUpRecv(const io_uring_cqe& cqe, UpstreamConn& u, std::uint32_t slot);
  void UpKill(UpstreamConn& u, std::uint32_t slot);
  void MaybeFinishUpClose(UpstreamConn& u, std::uint32_t slot);
  void ReleaseUp(std::uint32_t slot);
  // After an exchange: keep the connection in its pool (receive armed) or close it.
  void PoolOrClose(UpstreamConn& u, std::uint32_t slot, bool reusable);
  void SweepUpstreams();
  void CloseIdleUpstreams();

  // Proxy mode: the exchanges (ring_forward.cc).
  Connection* ClientOf(const UpstreamConn& u, std::uint32_t slot);
  // Answer bytes of `u` (nullptr/0: only what waits in u.in) into its client's output.
  void Relay(UpstreamConn& u, std::uint32_t slot, const char* data, std::size_t len);
  void FinishExchange(UpstreamConn& u, std::uint32_t slot, bool leftover);
  void FailExchange(UpstreamConn& u, std::uint32_t slot, AttemptFailure failure,
                    UpstreamCause cause);
  // The metrics of `upstream` (of the plan in force), or nullptr in decision mode.
  UpstreamMetrics* UpMetrics(std::uint32_t upstream) noexcept;
  // The client connection is going away: its exchange's upstream connection is closed.
  void DetachClient(Connection& c);
  // The client's output drained: relay what waited, read the upstream again.
  void ResumeRelay(Connection& c);
  // The upstream has room again for the client's body.
  void ResumeClientBody(UpstreamConn& u, std::uint32_t slot);
  // A held chunked request (UpstreamConn::holding) is sent from now on.
  void EndHold(UpstreamConn& u, std::uint32_t slot);
  bool KeepUpInput(UpstreamConn& u, const char* data, std::size_t len);

  // The loop and the socket operations (ring_loop.cc).
  io_uring_sqe* Sqe();
  void ArmAccept();
  void ArmRecv(Connection& c, std::uint32_t slot);
  void ArmWake();
  void Handle(const io_uring_cqe& cqe);
  void OnAccept(int fd);
  // An SQE on the socket of `c` (prepared with c.fd) names a registered file when it is one.
  static void OnClientSocket(io_uring_sqe* sqe, const Connection& c) noexcept {
    if (c.direct) sqe->flags |= IOSQE_FIXED_FILE;
  }
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

  // Proxy mode (sized when a plan first comes into force; resized only at a reload).
  const ProxyPlan* plan_ = nullptr;
  std::uint64_t plan_epoch_ = 0;  // bumped at every plan switch: older connections never pool
  std::vector<ServerSlot> servers_;
  std::vector<Balancer> balancers_;
  std::vector<std::uint32_t> first_server_;  // per upstream: its first index in servers_
  std::vector<UpstreamConn> ups_;
  // Upstream slots [0, up_files_) have their entry in the ring's registered file table (the
  // table is sized once, with ups_, and never past RLIMIT_NOFILE); slots past it, or every slot
  // if the kernel refused the table, use ordinary descriptors.
  std::uint32_t up_files_ = 0;
  // Client slots [0, client_files_) have theirs at index client_files_base_ + slot (after the
  // upstream slots' entries, so a table capped by RLIMIT_NOFILE keeps the upstreams'): every
  // send on such a client then skips the descriptor lookup. Proxy mode only (the table is made
  // with the first plan); a client accepted before it, or past the table, keeps its descriptor.
  std::uint32_t client_files_ = 0;
  std::uint32_t client_files_base_ = 0;
  std::uint32_t up_free_ = 0;
  std::uint32_t up_high_water_ = 0;
  std::vector<std::uint32_t> up_dirty_;
  std::unique_ptr<BufferPool> up_out_pool_;
  std::unique_ptr<BufferPool> up_in_pool_;
  std::unique_ptr<HttpResponse> response_;  // the answer head being relayed (one at a time)
};

}  // namespace sluice::net

#endif  // SLUICE_NET_SRC_RING_LOOP_H_
