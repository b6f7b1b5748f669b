// Proxy mode's exchanges (the pipeline's Forwarder, pipeline.h): an admitted request is routed,
// given a server (Balancer) and a connection (its IdlePool, or a fresh one), re-serialised
// canonically (WriteForwardedHead) into the connection's output; its body follows through
// BodyRelay as the client sends it; the answer is relayed by AnswerRelay into the client's
// output as it arrives. Back-pressure both ways: a full upstream output stops reading the
// client (BodyFeed::kBlocked), a full client output stops reading the upstream (no receive
// is armed until the client's send drained). Failures map to 502/503/504 when nothing of the
// answer was written yet, else the client connection is cut; the retry rule is retry.h's.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "ring_loop.h"
#include "sluice/net/http/forward_request.h"
#include "sluice/net/http/hop_by_hop.h"

namespace sluice::net {

using std::chrono::nanoseconds;

namespace {

// An IPv4 address (4 bytes, network order) as inet_ntop writes it, "a.b.c.d" without leading
// zeros, but without the sprintf glibc's inet_ntop runs for it (one per forwarded request).
std::string_view Ipv4Text(const unsigned char* bytes, char (&buffer)[INET6_ADDRSTRLEN]) {
  char* p = buffer;
  for (int i = 0; i < 4; ++i) {
    const unsigned v = bytes[i];
    if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
    if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
    *p++ = static_cast<char>('0' + v % 10);
    if (i < 3) *p++ = '.';
  }
  return std::string_view(buffer, static_cast<std::size_t>(p - buffer));
}

// The peer address as text for X-Forwarded-For / X-Real-IP (no allocation; no syscall).
std::string_view PeerText(const sockaddr_storage& peer, char (&buffer)[INET6_ADDRSTRLEN]) {
  if (peer.ss_family == AF_INET) {
    const in_addr& v4 = reinterpret_cast<const sockaddr_in&>(peer).sin_addr;
    return Ipv4Text(reinterpret_cast<const unsigned char*>(&v4), buffer);
  }
  if (peer.ss_family != AF_INET6 ||
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, buffer,
                sizeof buffer) == nullptr) {
    return {};
  }
  return buffer;
}

}  // namespace

Shard::Connection* Shard::Loop::ClientOf(const UpstreamConn& u, std::uint32_t slot) {
  if (u.client == kNoClient) return nullptr;
  Connection* c = Lookup(u.client);
  if (c == nullptr || c->killing || c->up != slot) return nullptr;
  return c;
}

Forwarder::Verdict Shard::Loop::Forward(std::uint64_t stream_id, const HttpRequest& request,
                                        const EvalOutcome& outcome) noexcept {
  ShardMetrics& m = shard_.metrics_;
  Connection* c = Lookup(stream_id);
  if (plan_ == nullptr || c == nullptr) return {503, false};
  const int route_index = plan_->Match(request);
  if (route_index < 0) {
    m.proxy_no_route.Add();
    return {404, true};
  }
  if (request.body == BodyKind::kContentLength &&
      request.content_length > plan_->max_body_bytes()) {
    m.proxy_body_too_large.Add();
    return {413, false};  // nothing is forwarded, the body is not read: the connection closes
  }
  const PlanRoute& route = plan_->routes()[static_cast<std::size_t>(route_index)];
  const PlanUpstream& upstream = plan_->upstreams()[route.upstream];
  Balancer& balancer = balancers_[route.upstream];
  const int pick = balancer.Pick(now_);
  if (pick < 0) {
    m.proxy_no_server.Add();
    if (UpstreamMetrics* um = UpMetrics(route.upstream)) {
      um->errors[static_cast<std::size_t>(UpstreamCause::kNoServer)].Add();
    }
    return {503, true};
  }
  const std::uint32_t server = first_server_[route.upstream] + static_cast<std::uint32_t>(pick);

  char* out = up_out_pool_->Acquire();
  if (out == nullptr) {
    m.buffer_exhausted.Add();
    return {503, true};
  }
  ForwardOptions options;
  options.x_forwarded_for = plan_->proxy().x_forwarded_for;
  options.x_real_ip = plan_->proxy().x_real_ip;
  // WebSocket tunnels are not built yet: Upgrade is removed on every route, so an upstream
  // never gets a handshake it could answer with 101.
  options.websocket = false;
  char peer_text[INET6_ADDRSTRLEN];
  char client_text[INET6_ADDRSTRLEN];
  ForwardContext context;
  context.peer_ip = PeerText(c->http.peer, peer_text);
  context.client_ip = context.peer_ip;
  if (outcome.reported >= 0) {
    // X-Real-IP is the client the policies saw: behind a trusted proxy (`forwarded:`), the one
    // its header named.
    unsigned char client[16];
    const std::size_t size = runtime_->policies->ForwardedClient(
        static_cast<std::size_t>(outcome.reported), request,
        reinterpret_cast<const sockaddr*>(&c->http.peer), client);
    if (size == 4) {
      context.client_ip = Ipv4Text(client, client_text);
    } else if (size == 16 && inet_ntop(AF_INET6, client, client_text, sizeof client_text)) {
      context.client_ip = client_text;
    }
  }
  context.default_host = servers_[server].server.text;
  const ForwardResult head =
      WriteForwardedHead(request, options, context, out, up_out_pool_->bytes());
  if (head.error != ForwardError::kNone) {
    up_out_pool_->Release(out);
    return {StatusFor(head.error), false};
  }
  bool reused = false;
  const std::uint32_t slot = TakeUpstream(server, reused);
  if (slot == kNoUpstream) {
    up_out_pool_->Release(out);
    m.proxy_no_server.Add();
    return {503, true};
  }
  UpstreamConn& u = ups_[slot];
  u.client = stream_id;
  u.reused = reused;
  u.wrote_any = u.request_sent = u.waiting_room = u.eof = false;
  u.has_body = request.body == BodyKind::kChunked ||
               (request.body == BodyKind::kContentLength && request.content_length > 0);
  // A chunked body's size is known only at its end: the request waits in `out` until the body
  // ends or fills it, so one that ends there over limits.body_bytes never reaches the upstream
  // (docs/config.md). Not with "Expect: 100-continue": that client waits for the upstream's 100.
  u.holding = request.body == BodyKind::kChunked && request.Find("expect") == nullptr;
  u.retries = 0;
  u.method_len = static_cast<std::uint8_t>(std::min(request.method.size(), sizeof u.method));
  std::memcpy(u.method, request.method.data(), u.method_len);
  if (request.method.size() > sizeof u.method) u.method_len = 0;  // never idempotent
  u.started = now_;
  u.header_timeout_ns = nanoseconds(upstream.config.timeouts.response_header).count();
  u.idle_timeout_ns = nanoseconds(upstream.config.timeouts.idle).count();
  u.deadline = now_ + u.idle_timeout_ns;  // until the request is sent (connect has its own)
  u.max_retries = upstream.config.retry_attempts;
  u.upstream = route.upstream;
  u.out = out;
  u.out_len = static_cast<std::uint32_t>(head.size);
  u.out_sent = 0;
  u.in_len = 0;
  // The client learns its budget on proxied answers too (proxy.ratelimit_headers); fields
  // that do not fit (a very long policy name) are left out.
  u.extra_len = plan_->proxy().ratelimit_headers
                    ? static_cast<std::uint32_t>(runtime_->responses->WriteRateLimitFields(
                          outcome, u.extra, sizeof u.extra))
                    : 0;
  ++u.requests;
  AnswerRelay::Setup setup;
  setup.head_request = request.method == "HEAD";
  setup.client.minor_version = request.minor_version;
  setup.client.keep_alive = request.keep_alive;
  setup.force_close = stopping_;
  const HttpHeader* te = request.Find("te");
  setup.trailers = te != nullptr && TeListsTrailers(te->value);
  setup.extra = std::string_view(u.extra, u.extra_len);
  u.relay.Start(setup);
  balancer.Started(static_cast<std::size_t>(pick));
  c->up = slot;
  c->body.Start(request, plan_->max_body_bytes());
  m.proxy_forwarded.Add();
  if (u.state == UpstreamConn::State::kActive) MarkUpDirty(u, slot);  // pooled: send now
  return {0, false};
}

BodyFeed Shard::Loop::Body(std::uint64_t stream_id, std::string_view bytes) noexcept {
  Connection* c = Lookup(stream_id);
  if (c == nullptr) return BodyFeed{bytes.size(), BodyFeed::Status::kMore};
  UpstreamConn* u = nullptr;
  const std::uint32_t slot = c->up;
  if (slot == kNoUpstream) {
    c->body.Discard();  // the exchange is over (an early answer, a failure): read past it
  } else {
    u = &ups_[slot];
  }
  char* out = nullptr;
  std::size_t room = 0;
  if (u != nullptr && !c->body.discarding()) {
    out = u->out + u->out_len;
    room = up_out_pool_->bytes() - u->out_len;
  }
  const BodyRelay::Step step = c->body.Feed(bytes, out, room);
  if (u != nullptr && step.written > 0) {
    u->out_len += static_cast<std::uint32_t>(step.written);
    // While the body is held nothing is sent: the client's progress is what keeps it alive.
    if (u->holding) u->deadline = now_ + u->idle_timeout_ns;
    if (u->state == UpstreamConn::State::kActive) MarkUpDirty(*u, slot);
  }
  switch (step.event) {
    case BodyRelay::Event::kNeedMore:
      return BodyFeed{step.consumed, BodyFeed::Status::kMore};
    case BodyRelay::Event::kOutputFull:
      // The hold is full: the request streams from now on (limits.body_bytes is then enforced
      // by closing the upstream connection before the last chunk, below).
      if (u != nullptr) EndHold(*u, slot);
      return BodyFeed{step.consumed, BodyFeed::Status::kBlocked};
    case BodyRelay::Event::kDone:
      if (u != nullptr) EndHold(*u, slot);
      if (u != nullptr && u->state == UpstreamConn::State::kActive && !u->send_in_flight &&
          u->out_sent == u->out_len && u->wrote_any && !u->request_sent) {
        u->request_sent = true;  // the last piece was already out
        if (!u->relay.started()) u->deadline = now_ + u->header_timeout_ns;
      }
      return BodyFeed{step.consumed, BodyFeed::Status::kDone};
    case BodyRelay::Event::kError:
    case BodyRelay::Event::kTooLarge:
      if (u != nullptr) {
        c->up = kNoUpstream;
        if (u->epoch == plan_epoch_) {
          (void)balancers_[servers_[u->server].upstream].Finished(
              u->server - first_server_[servers_[u->server].upstream], false, now_);
        }
        if (!u->wrote_any && !u->send_in_flight && u->state == UpstreamConn::State::kActive &&
            !u->relay.started() && !u->eof) {
          // Refused within the hold: not a byte of it was sent, so the connection is as clean
          // as when it was taken, and goes back to its pool (a flood of refused uploads does
          // not churn upstream connections).
          --u->requests;
          PoolOrClose(*u, slot, true);
        } else {
          // The upstream got an unfinished body (never its last chunk): it can never complete
          // that request, and the connection is closed, not pooled.
          UpKill(*u, slot);
        }
      }
      if (step.event == BodyRelay::Event::kTooLarge) shard_.metrics_.proxy_body_too_large.Add();
      return BodyFeed{step.consumed, step.event == BodyRelay::Event::kError
                                         ? BodyFeed::Status::kError
                                         : BodyFeed::Status::kTooLarge};
  }
  return BodyFeed{step.consumed, BodyFeed::Status::kMore};
}

bool Shard::Loop::KeepUpInput(UpstreamConn& u, const char* data, std::size_t len) {
  if (len == 0) return true;
  if (u.in == nullptr && (u.in = up_in_pool_->Acquire()) == nullptr) {
    shard_.metrics_.buffer_exhausted.Add();
    return false;
  }
  if (u.in_len + len > up_in_pool_->bytes()) return false;  // not an answer we can frame
  std::memmove(u.in + u.in_len, data, len);
  u.in_len += static_cast<std::uint32_t>(len);
  return true;
}

void Shard::Loop::Relay(UpstreamConn& u, std::uint32_t slot, const char* data, std::size_t len) {
  Connection* c = ClientOf(u, slot);
  if (c == nullptr) {
    shard_.metrics_.proxy_client_gone.Add();
    UpKill(u, slot);
    return;
  }
  const std::uint32_t client_slot = SlotOf(u.client);
  const char* p = data;
  std::size_t n = len;
  if (u.in_len > 0) {
    if (!KeepUpInput(u, data, len)) {
      FailExchange(u, slot, AttemptFailure::kMalformed, UpstreamCause::kMalformed);
      return;
    }
    p = u.in;
    n = u.in_len;
  }
  // Where this answer's bytes start if none was written before this call: an answer found
  // unusable within this same call (a head, then a bad first chunk) is taken back, and the
  // client gets a 502 instead of a cut connection (nothing of it was sent yet).
  const bool fresh = !c->http.answer_started;
  const std::uint32_t mark = c->http.out_len;
  std::size_t used = 0;
  AnswerRelay::Event event = AnswerRelay::Event::kNeedMore;
  for (;;) {
    std::size_t room = 0;
    char* out = pipeline_.AnswerRoom(c->http, room);
    if (out == nullptr) {
      FailExchange(u, slot, AttemptFailure::kMalformed, UpstreamCause::kMalformed);
      return;
    }
    AnswerRelay::Step step = u.relay.Feed(std::string_view(p + used, n - used), out, room,
                                          c->http.has_output(), *response_);
    if (step.event == AnswerRelay::Event::kNeedMore && u.eof) {
      // The upstream closed and what it sent is used up as far as it goes: the end of a
      // close-delimited answer, or (an unfinished head, chunk or length) a failure now.
      const AnswerRelay::Step end = u.relay.End(out + step.written, room - step.written);
      step.written += end.written;
      step.event = end.event;
    }
    used += step.consumed;
    if (step.written > 0) Apply(*c, client_slot, pipeline_.AnswerWritten(c->http, step.written));
    event = step.event;
    break;
  }
  switch (event) {
    case AnswerRelay::Event::kDone:
      FinishExchange(u, slot, used < n);
      return;
    case AnswerRelay::Event::kError:
      if (fresh && c->http.answer_started) pipeline_.RetractAnswer(c->http, mark);
      if (!u.relay.started()) {
        // Closed or reset before any answer byte: the stale pooled connection race, or an
        // upstream that died. The retry rule decides.
        FailExchange(u, slot, AttemptFailure::kClosed, UpstreamCause::kReset);
      } else {
        shard_.metrics_.proxy_malformed.Add();
        FailExchange(u, slot, AttemptFailure::kMalformed, UpstreamCause::kMalformed);
      }
      return;
    case AnswerRelay::Event::kOutputFull:
    case AnswerRelay::Event::kNeedMore:
      break;
  }
  // Keep what was not relayed for the next round.
  const std::size_t rest = n - used;
  if (p == u.in) {
    if (rest > 0 && used > 0) std::memmove(u.in, u.in + used, rest);
    u.in_len = static_cast<std::uint32_t>(rest);
  } else if (!KeepUpInput(u, p + used, rest)) {
    FailExchange(u, slot, AttemptFailure::kMalformed, UpstreamCause::kMalformed);
    return;
  }
  if (u.in_len == 0 && u.in != nullptr) {
    up_in_pool_->Release(u.in);
    u.in = nullptr;
  }
  if (u.relay.status() != 0) u.deadline = now_ + u.idle_timeout_ns;  // between body reads
  if (event == AnswerRelay::Event::kOutputFull) {
    u.waiting_room = true;  // ResumeRelay() after the client's send
  } else if (!u.eof) {
    ArmUpRecv(u, slot);
  }
}

void Shard::Loop::FinishExchange(UpstreamConn& u, std::uint32_t slot, bool leftover) {
  ShardMetrics& m = shard_.metrics_;
  Connection* c = ClientOf(u, slot);
  const bool body_done = !u.has_body || (c != nullptr && c->body.done());
  const bool sent_all = body_done && u.out_sent == u.out_len && !u.send_in_flight;
  const int status = u.relay.status();
  m.proxy_answers[static_cast<std::size_t>(std::clamp(status / 100, 0, 5))].Add();
  if (UpstreamMetrics* um = u.epoch == plan_epoch_ ? UpMetrics(u.upstream) : nullptr) {
    um->answers[static_cast<std::size_t>(std::clamp(status / 100, 1, 5) - 1)].Add();
    const std::int64_t took = now_ - u.started;
    std::size_t bucket = 0;
    while (bucket < kLatencyBuckets && took > kLatencyBoundsNs[bucket]) ++bucket;
    um->latency[bucket].Add();
    um->latency_sum_ns.Add(static_cast<std::uint64_t>(took > 0 ? took : 0));
  }
  if (u.epoch == plan_epoch_) {
    const std::uint32_t up = servers_[u.server].upstream;
    (void)balancers_[up].Finished(u.server - first_server_[up], false, now_);
  }
  const bool reusable = u.relay.reusable() && !leftover && sent_all && !u.eof;
  const bool keep_client = !u.relay.close_client();
  PoolOrClose(u, slot, reusable);
  if (c == nullptr) return;
  c->up = kNoUpstream;
  const std::uint32_t client_slot = SlotOf(c->http.id);
  if (!c->body.done()) {
    // The answer came before the whole body: the rest is read and dropped (the upstream
    // connection closed above, since it saw an unfinished request).
    c->body.Discard();
    if (c->http.body_blocked) Apply(*c, client_slot, pipeline_.ResumeBody(c->http));
  }
  Apply(*c, client_slot, pipeline_.FinishAnswer(c->http, keep_client));
}

void Shard::Loop::FailExchange(UpstreamConn& u, std::uint32_t slot, AttemptFailure failure,
                               UpstreamCause cause) {
  ShardMetrics& m = shard_.metrics_;
  Connection* c = ClientOf(u, slot);
  const bool current = u.epoch == plan_epoch_;
  UpstreamMetrics* um = current ? UpMetrics(u.upstream) : nullptr;
  std::uint32_t up = 0;
  if (current) {
    up = servers_[u.server].upstream;
    if (balancers_[up].Finished(u.server - first_server_[up], true, now_)) {
      m.proxy_ejections.Add();
      if (um != nullptr) um->ejections.Add();
    }
  }
  const int status = StatusFor(cause);
  AttemptFacts facts;
  facts.method = std::string_view(u.method, u.method_len);
  facts.failure = failure;
  facts.wrote_any = u.wrote_any || u.send_in_flight;  // a send in flight may have written
  facts.reused = u.reused;
  facts.answer_started = u.relay.started();
  // Bytes of the answer in the client's output (AnswerWritten; a retracted answer is not).
  facts.sent_to_client = c != nullptr && c->http.answer_started;
  facts.body_replayable = !u.has_body || !u.wrote_any;
  facts.retries_done = u.retries;
  if (c != nullptr && current && ShouldRetry(facts, u.max_retries)) {
    const int pick = balancers_[up].Pick(now_, static_cast<int>(u.server - first_server_[up]));
    bool reused = false;
    const std::uint32_t vs =
        pick < 0 ? kNoUpstream
                 : TakeUpstream(first_server_[up] + static_cast<std::uint32_t>(pick), reused);
    if (vs != kNoUpstream) {
      UpstreamConn& v = ups_[vs];
      v.client = u.client;
      v.reused = reused;
      v.wrote_any = v.request_sent = v.waiting_room = v.eof = false;
      v.has_body = u.has_body;
      v.holding = u.holding;
      // A stale pooled connection does not use up an attempt (nginx does the same): the
      // request never reached an upstream that was there.
      v.retries = u.reused && failure != AttemptFailure::kConnect ? u.retries : u.retries + 1;
      std::memcpy(v.method, u.method, sizeof v.method);
      v.method_len = u.method_len;
      v.started = u.started;
      v.header_timeout_ns = u.header_timeout_ns;
      v.idle_timeout_ns = u.idle_timeout_ns;
      v.deadline = now_ + v.idle_timeout_ns;
      v.max_retries = u.max_retries;
      v.upstream = u.upstream;
      v.out = u.out;  // the head (and any body bytes, none of which was written) moves over
      v.out_len = u.out_len;
      v.out_sent = 0;
      u.out = nullptr;
      u.out_len = u.out_sent = 0;
      v.in_len = 0;
      std::memcpy(v.extra, u.extra, u.extra_len);
      v.extra_len = u.extra_len;
      AnswerRelay::Setup setup = u.relay.setup();
      setup.extra = std::string_view(v.extra, v.extra_len);
      v.relay.Start(setup);
      ++v.requests;
      balancers_[up].Started(static_cast<std::size_t>(pick));
      c->up = vs;
      m.proxy_retries.Add();
      if (um != nullptr) um->retries.Add();
      if (v.state == UpstreamConn::State::kActive) MarkUpDirty(v, vs);
      UpKill(u, slot);
      return;
    }
  }
  UpKill(u, slot);
  if (c == nullptr) return;
  c->up = kNoUpstream;
  if (!c->body.done()) c->body.Discard();
  const std::uint32_t client_slot = SlotOf(c->http.id);
  if (um != nullptr) {
    um->errors[static_cast<std::size_t>(cause)].Add();
    if (facts.sent_to_client) um->aborted.Add();
  }
  if (!facts.sent_to_client) {
    m.proxy_status[status == 502 ? 0 : status == 503 ? 1 : 2].Add();
    Apply(*c, client_slot, pipeline_.FailAnswer(c->http, status));
    // A body that waited for the failed upstream is read (and dropped) again: the close after
    // this answer then lingers, instead of resetting a connection with unread input, which
    // could destroy the answer before the client reads it.
    if (c->http.body_blocked) Apply(*c, client_slot, pipeline_.ResumeBody(c->http));
  } else {
    m.proxy_aborted.Add();
    Apply(*c, client_slot, pipeline_.AbortAnswer(c->http));
  }
}

void Shard::Loop::DetachClient(Connection& c) {
  if (c.up == kNoUpstream) return;
  UpstreamConn& u = ups_[c.up];
  const std::uint32_t slot = c.up;
  c.up = kNoUpstream;
  if (u.client != c.http.id || u.fd < 0) return;
  shard_.metrics_.proxy_client_gone.Add();
  if (u.epoch == plan_epoch_) {
    const std::uint32_t up = servers_[u.server].upstream;
    (void)balancers_[up].Finished(u.server - first_server_[up], false, now_);
  }
  UpKill(u, slot);  // a client gone mid-answer releases its upstream connection
}

void Shard::Loop::ResumeRelay(Connection& c) {
  if (c.up == kNoUpstream) return;
  UpstreamConn& u = ups_[c.up];
  if (!u.waiting_room || u.client != c.http.id) return;
  u.waiting_room = false;
  Relay(u, c.up, nullptr, 0);
}

void Shard::Loop::EndHold(UpstreamConn& u, std::uint32_t slot) {
  if (!u.holding) return;
  u.holding = false;
  if (u.state == UpstreamConn::State::kActive) MarkUpDirty(u, slot);  // else once connected
}

void Shard::Loop::ResumeClientBody(UpstreamConn& u, std::uint32_t slot) {
  Connection* c = ClientOf(u, slot);
  if (c == nullptr || !c->http.body_blocked) return;
  Apply(*c, SlotOf(c->http.id), pipeline_.ResumeBody(c->http));
}

}  // namespace sluice::net
