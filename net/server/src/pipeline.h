// The request path of one shard, without the ring: bytes of one connection in, answers out.
// The ring (ring_loop.h) hands each connection's received bytes to Receive() and reports
// progress of its sends to Sent(); the pipeline parses heads in place, frames bodies, decides
// with the policies and writes answers into the connection's output, then says in Effects
// what the ring must do (send, stop or resume reading, close). It never touches a socket or
// an SQE, so it can be driven by a test, or by proxy mode's upstream completions (Complete()).
//
// Answers leave in request order. An admitted request may be handed to a Forwarder (proxy
// mode) instead of answered at once: the stream then frames that request's body but parses no
// further head until Complete() writes the forwarded answer; input waits meanwhile as it does
// when the output is full.
#ifndef SLUICE_NET_SRC_PIPELINE_H_
#define SLUICE_NET_SRC_PIPELINE_H_

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "buffer_pool.h"
#include "decision_log.h"
#include "metrics.h"
#include "runtime.h"
#include "sluice/net/http/http_parser.h"
#include "sluice/net/policy/policy_set.h"
#include "sluice/net/policy/response.h"

namespace sluice::net {

// Unanswered pipelined input a connection may hold while its answers wait to be read. A
// multishot receive can pull more from the socket in one pass than we can answer before the
// output buffer fills; that input waits here (and the connection then receives one buffer at a
// time until it has caught up). Past this, the client is closed.
inline constexpr std::size_t kMaxPendingInput = std::size_t{1} << 20;
// Pipelined input held behind a forwarded request before the connection stops reading.
inline constexpr std::size_t kHoldInputBytes = 64 * 1024;
// Input and output buffers of all connections of a shard together stay under this; a
// connection that needs one more buffer beyond it is closed (and counted).
inline constexpr std::size_t kBufferBudgetBytes = std::size_t{512} << 20;

// One connection's HTTP state: where it is in its byte stream, its waiting input, its answers
// not yet sent. Owned by the ring's connection slot; only the pipeline changes it.
struct Stream {
  std::uint64_t id = 0;  // the ring's name for the connection (slot and generation)
  sockaddr_storage peer{};
  BodyFramer framer;
  char* in = nullptr;  // from an input pool while a head is unfinished or input waits
  std::uint32_t in_len = 0;
  std::uint32_t in_cap = 0;  // in_pool_ or big_in_pool_ buffer size
  char* out = nullptr;       // from the output pool while answers wait to be sent
  std::uint32_t out_start = 0;
  std::uint32_t out_len = 0;
  std::int64_t head_started = 0;  // a head (or the first one) is awaited since; 0: none
  bool paused = false;            // no room to answer another request until a send completes
  bool awaiting = false;          // an answer was promised (Forwarder): Complete() writes it
  bool relaying = false;          // the forwarded request's body goes to the Forwarder
  bool body_blocked = false;      // the Forwarder has no room for more body: input waits
  bool held = false;              // input held while an answer is awaited: reading stopped
  bool answer_started = false;    // bytes of the awaited answer are written (streaming)
  bool final = false;             // our last answer is written (error, Connection: close, stop)
  bool failed = false;            // the pipeline gave up on the connection: close it

  // Answers written and not yet sent.
  [[nodiscard]] bool has_output() const noexcept { return out_len > out_start; }
  [[nodiscard]] std::string_view output() const noexcept {
    return {out + out_start, out_len - out_start};
  }
  // Everything received is answered and sent (what an EOF or a stop waits for).
  [[nodiscard]] bool answered() const noexcept { return !has_output() && !paused && !awaiting; }
  // Between requests: no head, body or answer in progress.
  [[nodiscard]] bool between_requests() const noexcept {
    return framer.done() && !paused && !awaiting;
  }
  [[nodiscard]] bool holds_buffers() const noexcept { return in != nullptr || out != nullptr; }
};

// What the ring must do after the pipeline handled an event of a connection, in this order.
struct Effects {
  bool send = false;          // answers were written: send them this pass
  bool stop_reading = false;  // the output is full: stop receiving (and then receive one
                              // buffer at a time until input and output have drained)
  bool close = false;         // the connection is unusable: close it, nothing more is sent
  bool read_again = false;    // the output has room again: receive again
};

// What a Forwarder did with body bytes of the request it forwards.
struct BodyFeed {
  enum class Status : std::uint8_t {
    kMore,      // used what it could: more body is expected (the rest of the bytes, if any,
                // is an unfinished framing element: present it again with more)
    kBlocked,   // no room upstream: keep the rest, stop reading, until ResumeBody()
    kDone,      // the body is complete; the rest of the bytes is the next request
    kError,     // bad chunked framing: the exchange was abandoned; 400 and close
    kTooLarge,  // past limits.body_bytes: the exchange was abandoned; 413 and close
  };
  std::size_t consumed = 0;
  Status status = Status::kMore;
};

// Proxy mode's hook (issue 12): an admitted request goes to Forward() instead of being answered
// 200 at once; its body goes to Body() as it arrives, and its answer is streamed into the
// connection's output by the ring (AnswerRoom / AnswerWritten / FinishAnswer, or FailAnswer /
// AbortAnswer), which finds the connection by its id first (a closed one is not there).
class Forwarder {
 public:
  virtual ~Forwarder() = default;
  // Status 0 when the request was taken (its answer comes later); otherwise the status to
  // answer locally at once (404 no route, 413, 503...), and whether the connection may stay
  // open after it (the request's body, if any, is then read past). `request` (views into the
  // connection's input) and `outcome` are valid during this call only. Must not call back
  // into the pipeline.
  struct Verdict {
    int status = 0;
    bool keep_alive = false;
  };
  virtual Verdict Forward(std::uint64_t stream_id, const HttpRequest& request,
                          const EvalOutcome& outcome) noexcept = 0;
  // Body bytes of the request the stream forwards (valid during the call).
  virtual BodyFeed Body(std::uint64_t stream_id, std::string_view bytes) noexcept = 0;
};

class Pipeline {
 public:
  // `receive_bytes`: the largest piece the ring hands to Receive() at once.
  Pipeline(ShardMetrics& metrics, std::size_t shard_index, DecisionLog* log,
           std::size_t receive_bytes, std::size_t max_connections);

  // The config in force from now on. The first call sizes the buffer pools (limits that size
  // them need a restart).
  void SetRuntime(const Runtime& runtime);
  // The clock of this loop pass: every decision of the pass uses it.
  void Tick(std::int64_t now_ns, std::chrono::system_clock::time_point wall) noexcept;
  // The shard is stopping: answers say "Connection: close" from now on.
  void BeginStop() noexcept { stopping_ = true; }
  void set_forwarder(Forwarder* forwarder) noexcept { forwarder_ = forwarder; }

  // A new connection (the ring's `id` for it; the ring fills s.peer): the first head is
  // awaited from now.
  void Open(Stream& s, std::uint64_t id) noexcept;
  // Bytes the client sent (`data` is valid during this call only: what must wait is copied).
  Effects Receive(Stream& s, const char* data, std::size_t len);
  // `n` bytes of s.output() were sent.
  Effects Sent(Stream& s, std::size_t n);
  // The promised answer of an awaiting stream (a complete response that fits the output
  // buffer; a longer one closes the connection); then the input that waited is answered.
  Effects Complete(Stream& s, std::string_view answer, bool keep_alive);
  // The connection is gone: its buffers go back.
  void Close(Stream& s) noexcept;

  // Proxy mode's streaming of an awaited answer (the Forwarder's side, on the shard thread).
  // Where to write the next bytes of the answer, `room` bytes long (the output buffer is taken
  // if the stream holds none); nullptr when the shard's buffers are spent.
  char* AnswerRoom(Stream& s, std::size_t& room) noexcept;
  // `n` bytes were written at AnswerRoom(): send them.
  Effects AnswerWritten(Stream& s, std::size_t n) noexcept;
  // The answer is complete; `keep_alive` false ends the connection after it. Then the input
  // that waited is answered.
  Effects FinishAnswer(Stream& s, bool keep_alive);
  // Nothing of the answer was written: answer `status` (502, 503, 504) instead, and close.
  Effects FailAnswer(Stream& s, int status) noexcept;
  // Part of the answer went out and the rest cannot come: close without completing it (the
  // client sees a truncated message, never a false end).
  Effects AbortAnswer(Stream& s) noexcept;
  // The Forwarder has room for body bytes again (after a kBlocked).
  Effects ResumeBody(Stream& s);

 private:
  void ReadKept(Stream& s);
  std::size_t Drive(Stream& s, const char* p, std::size_t n);
  void Answer(Stream& s);
  void AnswerError(Stream& s, int status, bool keep_alive = false, int minor_version = 1);
  void LogDecision(const Stream& s, const HttpRequest& req);
  bool KeepInput(Stream& s, const char* data, std::size_t len);
  void ReleaseInput(Stream& s) noexcept;
  void Fail(Stream& s) noexcept;

  ShardMetrics& metrics_;
  std::size_t shard_index_;
  DecisionLog* log_;
  std::size_t receive_bytes_;
  std::size_t max_connections_;
  const Runtime* runtime_ = nullptr;
  const HttpLimits* limits_ = nullptr;
  std::size_t max_response_ = 0;
  std::unique_ptr<BufferPool> in_pool_;
  std::unique_ptr<BufferPool> big_in_pool_;  // kMaxPendingInput buffers for deep pipelines
  std::unique_ptr<BufferPool> out_pool_;
  KeyScratch scratch_{1};
  std::unique_ptr<HttpRequest> request_ = std::make_unique<HttpRequest>();
  EvalOutcome outcome_;
  DateCache date_;
  Forwarder* forwarder_ = nullptr;
  Effects effects_;  // of the event being handled
  std::int64_t now_ = 0;
  std::int64_t unix_now_ = 0;
  bool stopping_ = false;
  std::uint64_t rng_ = 0x9E3779B97F4A7C15ULL;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_SRC_PIPELINE_H_
