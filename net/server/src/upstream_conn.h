// The ring's state of one upstream connection in proxy mode, and of the exchange (one
// forwarded request and its answer) it carries. Upstream connections live in their own slot
// table with generations, as client connections do: a completion names the slot and the
// generation, and one for a connection that has since been closed (another generation in the
// slot) is dropped.
//
// The life of a slot:
//   kConnecting  a fresh socket, IORING_OP_CONNECT linked to a LINK_TIMEOUT (connect_ms)
//   kActive      an exchange: the forwarded head and body are sent from `out` (a chunked body
//                first held there: `holding`), the answer is
//                received one buffer at a time (single-shot receives from the provided-buffer
//                ring) and relayed into the client's output by `relay`
//   kIdle        in its server's IdlePool, with a receive armed: a FIN (or stray bytes) from
//                the upstream completes it and the connection is closed at once, so the pool
//                never hands out a connection the upstream already gave up
//   kClosing     cancels issued, closed through the ring once no operation references the fd
#ifndef SLUICE_NET_SRC_UPSTREAM_CONN_H_
#define SLUICE_NET_SRC_UPSTREAM_CONN_H_

#include <linux/time_types.h>
#include <sys/socket.h>

#include <cstdint>

#include "sluice/net/proxy/answer_relay.h"

namespace sluice::net {

inline constexpr std::uint32_t kNoUpstream = 0xffffffu;
inline constexpr std::uint64_t kNoClient = ~std::uint64_t{0};

struct UpstreamConn {
  enum class State : std::uint8_t { kFree, kConnecting, kActive, kIdle, kClosing };

  // The socket as the ring's operations name it: its index in the ring's registered file table
  // when `direct` (IOSQE_FIXED_FILE: no file lookup and reference per operation; the ordinary
  // descriptor was closed once registered), else an ordinary descriptor. -1: a free slot.
  int fd = -1;
  bool direct = false;
  std::uint32_t generation = 0;
  std::uint32_t next_free = 0;
  State state = State::kFree;
  std::uint32_t server = 0;    // index into the shard's server table of plan `epoch`
  std::uint64_t epoch = 0;     // the plan generation the server index belongs to
  std::uint64_t requests = 0;  // requests this connection carried
  // Operations in flight on the fd (it is closed only when none is).
  bool connect_in_flight = false;
  bool recv_armed = false;
  bool send_in_flight = false;
  bool close_submitted = false;
  bool dirty = false;                   // on the upstream send list of this pass
  __kernel_timespec connect_timeout{};  // read by the kernel when the linked SQE is submitted
  sockaddr_storage address{};           // the connect's address (the kernel may copy it late)
  socklen_t address_len = 0;

  // The exchange (kConnecting, kActive).
  std::uint64_t client = kNoClient;  // the client's stream id (stream ids can be 0)
  bool reused = false;               // taken from the pool
  bool wrote_any = false;            // any byte of the request was written
  bool request_sent = false;         // the whole request (head and body) was written
  bool has_body = false;
  // A chunked body is held back (nothing of the request is sent, MarkUpDirty does nothing)
  // until it ends or `out` is full, so that limits.body_bytes refuses a body that ends within
  // the hold with no byte upstream. Off for Content-Length bodies (their size is checked on
  // the head) and for "Expect: 100-continue" (the client waits for the upstream's 100).
  bool holding = false;
  bool waiting_room = false;  // reading stopped: the client's output is full
  bool eof = false;           // the upstream closed its side; relayed once u.in is
  std::uint32_t retries = 0;
  char method[16] = {};  // for the retry rule; longer methods are never idempotent anyway
  std::uint8_t method_len = 0;
  std::int64_t started = 0;   // when the request was forwarded (latency)
  std::int64_t deadline = 0;  // response-header or idle timeout; 0: none
  std::int64_t header_timeout_ns = 0;
  std::int64_t idle_timeout_ns = 0;
  std::uint32_t max_retries = 0;
  std::uint32_t upstream = 0;  // index of the plan's upstream (a retry picks in it again)
  char* out = nullptr;         // the forwarded request: head, then body pieces
  std::uint32_t out_len = 0;
  std::uint32_t out_sent = 0;
  char* in = nullptr;  // answer bytes received and not yet relayed (an unfinished element)
  std::uint32_t in_len = 0;
  char extra[320] = {};  // sluiced's own answer fields (RateLimit), for relay's Setup
  std::uint32_t extra_len = 0;
  AnswerRelay relay;
};

}  // namespace sluice::net

#endif  // SLUICE_NET_SRC_UPSTREAM_CONN_H_
