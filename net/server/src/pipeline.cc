// The pipeline (pipeline.h): requests parsed in place, policies evaluated, answers written
// into the connection's output. The ring plumbing around it is in ring_loop.cc.
#include "pipeline.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace sluice::net {

using std::chrono::nanoseconds;

Pipeline::Pipeline(ShardMetrics& metrics, std::size_t shard_index, DecisionLog* log,
                   std::size_t receive_bytes, std::size_t max_connections)
    : metrics_(metrics),
      shard_index_(shard_index),
      log_(log),
      receive_bytes_(receive_bytes),
      max_connections_(max_connections) {}

void Pipeline::SetRuntime(const Runtime& runtime) {
  runtime_ = &runtime;
  limits_ = &runtime_->config.limits.http;
  request_->ReservePath(limits_->max_uri_bytes);  // only at start and at a reload
  max_response_ = runtime_->responses->max_response_bytes();
  if (scratch_.buffer.size() < runtime_->policies->scratch_bytes()) {
    scratch_.buffer.resize(runtime_->policies->scratch_bytes());  // only at a reload
  }
  // Buffer sizes are fixed at start (limits that size them need a restart).
  if (!in_pool_) {
    // Input: a partial head and a receive buffer in hand; deep pipelines move to a big buffer.
    const std::size_t in_bytes = limits_->max_header_bytes + 2 * receive_bytes_;
    const std::size_t out_bytes =
        std::max(runtime_->config.limits.max_output_bytes, 4 * max_response_);
    const std::size_t conns = max_connections_;
    const std::size_t third = kBufferBudgetBytes / 3;
    in_pool_ = std::make_unique<BufferPool>(in_bytes, std::min(conns, third / in_bytes));
    big_in_pool_ = std::make_unique<BufferPool>(std::max(kMaxPendingInput, 2 * in_bytes),
                                                std::min(conns, third / kMaxPendingInput));
    out_pool_ = std::make_unique<BufferPool>(out_bytes, std::min(conns, third / out_bytes));
  }
}

void Pipeline::Tick(std::int64_t now_ns, std::chrono::system_clock::time_point wall) noexcept {
  now_ = now_ns;
  unix_now_ = std::chrono::duration_cast<nanoseconds>(wall.time_since_epoch()).count();
  date_.Refresh(wall);
}

void Pipeline::Open(Stream& s, std::uint64_t id) noexcept {
  s.id = id;
  s.framer = BodyFramer();
  s.in_len = s.in_cap = s.out_start = s.out_len = 0;
  s.paused = s.awaiting = s.final = s.failed = false;
  s.relaying = s.body_blocked = s.held = s.answer_started = false;
  s.head_started = now_;  // the first head is awaited from now: header_timeout applies
}

void Pipeline::Fail(Stream& s) noexcept {
  s.failed = true;
  effects_.close = true;
}

bool Pipeline::KeepInput(Stream& c, const char* data, std::size_t len) {
  if (c.in == nullptr) {
    if ((c.in = in_pool_->Acquire()) == nullptr) {
      metrics_.buffer_exhausted.Add();
      Fail(c);
      return false;
    }
    c.in_cap = static_cast<std::uint32_t>(in_pool_->bytes());
  }
  if (c.in_len + len > c.in_cap) {
    if (c.in_cap < big_in_pool_->bytes() && c.in_len + len <= big_in_pool_->bytes()) {
      // A deep pipeline: move to a big buffer (returned once the input is answered).
      char* big = big_in_pool_->Acquire();
      if (big == nullptr) {
        metrics_.buffer_exhausted.Add();
        Fail(c);
        return false;
      }
      std::memcpy(big, c.in, c.in_len);
      in_pool_->Release(c.in);
      c.in = big;
      c.in_cap = static_cast<std::uint32_t>(big_in_pool_->bytes());
    } else {
      // More unanswered input than kMaxPendingInput: not a client reading its answers.
      metrics_.input_overflows.Add();
      Fail(c);
      return false;
    }
  }
  std::memcpy(c.in + c.in_len, data, len);
  c.in_len += static_cast<std::uint32_t>(len);
  return true;
}

void Pipeline::ReleaseInput(Stream& c) noexcept {
  if (c.in == nullptr) return;
  (c.in_cap == in_pool_->bytes() ? in_pool_ : big_in_pool_)->Release(c.in);
  c.in = nullptr;
  c.in_cap = 0;
}

void Pipeline::Close(Stream& c) noexcept {
  ReleaseInput(c);
  if (c.out != nullptr) out_pool_->Release(c.out);
  c.out = nullptr;
}

// Answers the input that waited in c.in, as far as the output has room.
void Pipeline::ReadKept(Stream& c) {
  if (c.in_len == 0) return;
  const std::size_t used = Drive(c, c.in, c.in_len);
  c.in_len -= static_cast<std::uint32_t>(used);
  if (c.in_len > 0 && used > 0) std::memmove(c.in, c.in + used, c.in_len);
  if (c.in_len == 0) ReleaseInput(c);
}

Effects Pipeline::Receive(Stream& c, const char* data, std::size_t len) {
  effects_ = {};
  if (c.final || c.failed) return effects_;  // our answer is final: discard
  if (c.in_len > 0 || c.paused || c.body_blocked) {
    if (!KeepInput(c, data, len)) return effects_;
    if (c.paused || c.body_blocked) return effects_;
    if (c.awaiting && !c.relaying && c.in_len >= kHoldInputBytes && !c.held) {
      // Pipelined requests pile up behind a forwarded one: stop reading until it is answered
      // (TCP flow control then holds the rest in the client).
      c.held = true;
      effects_.stop_reading = true;
      return effects_;
    }
    // A head ends with CRLFCRLF: without a new LF nothing can complete, so a client trickling
    // a long head byte by byte does not make us re-parse it on every byte (the limits are
    // still enforced as soon as the input passes them).
    if (c.framer.done() && !c.relaying && std::memchr(data, '\n', len) == nullptr &&
        c.in_len <= std::min(limits_->max_uri_bytes, limits_->max_header_bytes)) {
      return effects_;
    }
    ReadKept(c);
    return effects_;
  }
  // Zero-copy: parse straight out of the kernel's buffer; keep only an unfinished tail.
  const std::size_t used = Drive(c, data, len);
  if (used < len && !c.failed) KeepInput(c, data + used, len - used);
  return effects_;
}

Effects Pipeline::Sent(Stream& c, std::size_t n) {
  effects_ = {};
  c.out_start += static_cast<std::uint32_t>(n);
  if (c.out_start == c.out_len) {
    c.out_start = c.out_len = 0;
  } else if (c.out_start > out_pool_->bytes() / 2) {
    std::memmove(c.out, c.out + c.out_start, c.out_len - c.out_start);
    c.out_len -= c.out_start;
    c.out_start = 0;
  }
  if (c.paused && out_pool_->bytes() - c.out_len >= max_response_) {
    // The client read some answers: answer what waited, then listen again.
    c.paused = false;
    ReadKept(c);
    if (!c.paused) effects_.read_again = true;
  }
  if (c.out != nullptr && c.out_len == 0) {
    out_pool_->Release(c.out);
    c.out = nullptr;
  }
  return effects_;
}

Effects Pipeline::Complete(Stream& c, std::string_view answer, bool keep_alive) {
  effects_ = {};
  if (!c.awaiting || c.failed) return effects_;
  c.awaiting = false;
  // The output may have been sent and handed back while the answer was awaited.
  if (c.out == nullptr && (c.out = out_pool_->Acquire()) == nullptr) {
    metrics_.buffer_exhausted.Add();
    Fail(c);
    return effects_;
  }
  if (out_pool_->bytes() - c.out_len < answer.size()) {
    metrics_.buffer_exhausted.Add();
    Fail(c);  // more than the output buffer holds: this answer cannot be queued
    return effects_;
  }
  std::memcpy(c.out + c.out_len, answer.data(), answer.size());
  c.out_len += static_cast<std::uint32_t>(answer.size());
  effects_.send = true;
  if (!keep_alive || stopping_) {
    c.final = true;
    return effects_;
  }
  ReadKept(c);
  return effects_;
}

std::size_t Pipeline::Drive(Stream& c, const char* p, std::size_t n) {
  std::size_t off = 0;
  while (off < n) {
    if (c.final || c.failed) return n;
    if (c.relaying) {
      // A forwarded request's body: the forwarder takes what its upstream has room for.
      if (c.body_blocked) return off;
      const BodyFeed f = forwarder_->Body(c.id, std::string_view(p + off, n - off));
      off += f.consumed;
      switch (f.status) {
        case BodyFeed::Status::kMore:
          return off;
        case BodyFeed::Status::kBlocked:
          c.body_blocked = true;
          effects_.stop_reading = true;
          return off;
        case BodyFeed::Status::kDone:
          c.relaying = false;
          continue;
        case BodyFeed::Status::kError:
        case BodyFeed::Status::kTooLarge:
          c.relaying = false;
          if (f.status == BodyFeed::Status::kError) metrics_.body_errors.Add();
          if (c.awaiting && !c.answer_started) {
            c.awaiting = false;
            AnswerError(c, f.status == BodyFeed::Status::kError ? 400 : 413);
          } else if (c.awaiting) {
            Fail(c);  // part of an answer went out already: only a close is left
          } else {
            // The upstream answered early and that answer is complete (the body was being read
            // past): it still goes out whole, then the connection ends; no second answer.
            c.final = true;
            effects_.send = true;
          }
          return n;
      }
    }
    if (!c.framer.done()) {
      const BodyFramer::Result r = c.framer.Feed(std::string_view(p + off, n - off));
      off += r.consumed;
      if (r.status == BodyFramer::Status::kError) {
        metrics_.body_errors.Add();
        AnswerError(c, 400);
        return n;
      }
      if (r.status == BodyFramer::Status::kNeedMore) return n;
      continue;
    }
    // The next head waits while an answer is promised: answers leave in request order.
    if (c.awaiting) return off;
    if (c.out != nullptr && out_pool_->bytes() - c.out_len < max_response_) {
      // No room for another answer: stop until the client reads what we sent, and stop
      // reading from it meanwhile (TCP flow control then holds the rest in the client).
      c.paused = true;
      effects_.stop_reading = true;
      return off;
    }
    const ParseResult r = ParseRequestHead(std::string_view(p + off, n - off), *limits_, *request_);
    if (r.status == ParseResult::Status::kPartial) {
      if (c.head_started == 0) c.head_started = now_;
      return off;
    }
    if (r.status == ParseResult::Status::kError) {
      metrics_.parse_errors[static_cast<std::size_t>(r.error)].Add();
      AnswerError(c, StatusFor(r.error));
      return n;
    }
    // Only a complete head takes an output buffer: a head still arriving has nothing to
    // send, and slow heads must not hold the shard's output pool.
    if (c.out == nullptr && (c.out = out_pool_->Acquire()) == nullptr) {
      metrics_.buffer_exhausted.Add();
      Fail(c);
      return n;
    }
    off += r.consumed;
    c.head_started = 0;
    Answer(c);
    if (!c.relaying) c.framer.Start(*request_);  // a body not forwarded is read and dropped
  }
  return off;
}

void Pipeline::Answer(Stream& c) {
  const Runtime& rt = *runtime_;
  const HttpRequest& req = *request_;
  rt.policies->Evaluate(req, reinterpret_cast<const sockaddr*>(&c.peer), nanoseconds(now_),
                        scratch_, outcome_);
  ShardMetrics& m = metrics_;
  if (outcome_.refusal != Refusal::kNone) {
    // A repeated key header, or a trusted proxy's uri/method we cannot read: nothing was
    // consumed; 400 and close, as for a malformed head.
    m.refusals[static_cast<std::size_t>(outcome_.refusal)].Add();
    AnswerError(c, 400);
    return;
  }
  if (!outcome_.matched) {
    m.requests_unmatched.Add();
  } else if (outcome_.allowed) {
    m.requests_allowed.Add();
  } else {
    m.requests_denied.Add();
  }
  if (outcome_.forwarded_untrusted) m.forwarded_untrusted.Add();
  if (outcome_.forwarded_missing != ForwardedMissing::kNone) {
    m.forwarded_missing[static_cast<std::size_t>(outcome_.forwarded_missing)].Add();
  }
  for (std::size_t i = 0; i < outcome_.result_count; ++i) {
    const EvalOutcome::PolicyResult& pr = outcome_.results[i];
    PolicyMetrics& pm = rt.metrics(shard_index_, pr.policy);
    if (pr.missing_key) {
      pm.missing_key.Add();
      pm.denied.Add();
    } else if (pr.refunded) {
      pm.refunded.Add();
    } else if (pr.allowed) {
      pm.admitted.Add();
    } else if (pr.shadow) {
      pm.shadow_denied.Add();
    } else {
      pm.denied.Add();
    }
  }
  if (log_ != nullptr && outcome_.matched && outcome_.log_policy >= 0) {
    LogDecision(c, req);
  }
  if (forwarder_ != nullptr && outcome_.allowed) {
    const Forwarder::Verdict verdict = forwarder_->Forward(c.id, req, outcome_);
    if (verdict.status != 0) {
      // No route, too large, no server...: answered here, in its place among the answers. A
      // body we can read past keeps the connection (as for a denial); else it closes.
      const bool keep_alive = verdict.keep_alive && req.keep_alive && !stopping_ &&
                              !(req.body != BodyKind::kNone && req.Find("expect") != nullptr);
      AnswerError(c, verdict.status, keep_alive, req.minor_version);
      return;
    }
    // The answer is streamed in later; the next head waits for it. The body goes to the
    // forwarder as it arrives.
    c.awaiting = true;
    c.answer_started = false;
    c.relaying = req.body == BodyKind::kChunked ||
                 (req.body == BodyKind::kContentLength && req.content_length > 0);
    return;
  }
  // "Expect: 100-continue" with a body: we answer without asking for the body, so the client
  // may never send it and its bytes cannot be told from the next request. Close after.
  const bool keep_alive = req.keep_alive && !stopping_ &&
                          !(req.body != BodyKind::kNone && req.Find("expect") != nullptr);
  const std::size_t written = rt.responses->WriteDecision(
      outcome_, keep_alive, req.method == "HEAD", date_, c.out + c.out_len,
      out_pool_->bytes() - c.out_len, req.minor_version);
  if (written == 0) std::abort();  // impossible: Drive checked room for max_response_bytes()
  c.out_len += static_cast<std::uint32_t>(written);
  effects_.send = true;
  if (!keep_alive) c.final = true;
}

void Pipeline::LogDecision(const Stream& c, const HttpRequest& req) {
  const Runtime& rt = *runtime_;
  // Denials, and what a shadow policy would have denied (the log is where shadow policies show).
  bool log = !outcome_.allowed || (outcome_.log_shadow && !outcome_.log_decision.allowed);
  if (!log && rt.config.log.sample_admits > 0) {
    rng_ ^= rng_ << 13;  // xorshift64: a sample, not a secret
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    log = static_cast<double>(rng_ >> 11) * 0x1.0p-53 < rt.config.log.sample_admits;
  }
  if (!log) return;
  LogRecord rec;
  rec.unix_ns = unix_now_;
  rec.status = static_cast<std::uint16_t>(outcome_.allowed ? 200 : rt.config.deny_status);
  rec.retry_after_ns = outcome_.log_decision.retry_after.count();
  rec.shadow = outcome_.log_shadow;
  const std::string& name = rt.policies->policy(static_cast<std::size_t>(outcome_.log_policy)).name;
  rec.policy_len = static_cast<std::uint8_t>(std::min(name.size(), sizeof rec.policy));
  std::memcpy(rec.policy, name.data(), rec.policy_len);
  rec.key_len = static_cast<std::uint8_t>(FormatKey(outcome_.log_key, rec.key, sizeof rec.key));
  if (c.peer.ss_family == AF_INET) {
    rec.family = AF_INET;
    std::memcpy(rec.address, &reinterpret_cast<const sockaddr_in&>(c.peer).sin_addr, 4);
  } else if (c.peer.ss_family == AF_INET6) {
    rec.family = AF_INET6;
    std::memcpy(rec.address, &reinterpret_cast<const sockaddr_in6&>(c.peer).sin6_addr, 16);
  }
  rec.forwarded_size = static_cast<std::uint8_t>(
      rt.policies->ForwardedClient(static_cast<std::size_t>(outcome_.log_policy), req,
                                   reinterpret_cast<const sockaddr*>(&c.peer), rec.forwarded));
  if (!log_->Push(shard_index_, rec)) metrics_.log_dropped.Add();
}

void Pipeline::AnswerError(Stream& c, int status, bool keep_alive, int minor_version) {
  if (c.out == nullptr && (c.out = out_pool_->Acquire()) == nullptr) {
    metrics_.buffer_exhausted.Add();
    Fail(c);
    return;
  }
  const std::size_t written = runtime_->responses->WriteError(
      status, date_, c.out + c.out_len, out_pool_->bytes() - c.out_len, keep_alive, minor_version);
  c.final = !keep_alive;
  if (written == 0) {
    Fail(c);  // no room left even for the error: the stream is unusable anyway
    return;
  }
  c.out_len += static_cast<std::uint32_t>(written);
  effects_.send = true;
}

}  // namespace sluice::net

// ---- Proxy mode: the awaited answer, streamed in by the forwarder.

namespace sluice::net {

char* Pipeline::AnswerRoom(Stream& c, std::size_t& room) noexcept {
  room = 0;
  if (c.out == nullptr && (c.out = out_pool_->Acquire()) == nullptr) {
    metrics_.buffer_exhausted.Add();
    return nullptr;
  }
  room = out_pool_->bytes() - c.out_len;
  return c.out + c.out_len;
}

Effects Pipeline::AnswerWritten(Stream& c, std::size_t n) noexcept {
  effects_ = {};
  if (n == 0) return effects_;
  c.out_len += static_cast<std::uint32_t>(n);
  c.answer_started = true;
  effects_.send = true;
  return effects_;
}

Effects Pipeline::FinishAnswer(Stream& c, bool keep_alive) {
  effects_ = {};
  if (!c.awaiting || c.failed) return effects_;
  c.awaiting = false;
  c.answer_started = false;
  effects_.send = c.has_output();
  if (!keep_alive || stopping_) {
    c.final = true;
    effects_.send = true;  // the ring half-closes once the output is out
    return effects_;
  }
  ReadKept(c);
  if (c.held && !c.awaiting) {
    c.held = false;
    if (!c.paused && !c.body_blocked) effects_.read_again = true;
  }
  return effects_;
}

void Pipeline::RetractAnswer(Stream& c, std::uint32_t mark) noexcept {
  if (c.out == nullptr || mark > c.out_len || mark < c.out_start) return;
  c.out_len = mark;
  c.answer_started = false;
}

Effects Pipeline::FailAnswer(Stream& c, int status) noexcept {
  effects_ = {};
  if (!c.awaiting || c.failed) return effects_;
  c.awaiting = false;
  c.relaying = false;
  AnswerError(c, status);
  return effects_;
}

Effects Pipeline::AbortAnswer(Stream& c) noexcept {
  effects_ = {};
  c.awaiting = false;
  c.relaying = false;
  Fail(c);
  return effects_;
}

Effects Pipeline::ResumeBody(Stream& c) {
  effects_ = {};
  if (!c.body_blocked) return effects_;
  c.body_blocked = false;
  ReadKept(c);
  if (!c.body_blocked && !c.paused && !c.held && !c.failed) effects_.read_again = true;
  return effects_;
}

}  // namespace sluice::net
