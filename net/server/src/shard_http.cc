// What received bytes become: requests parsed in place, policies evaluated, answers written
// into the connection's output. The ring plumbing around it is in shard.cc.
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "shard_loop.h"

namespace sluice::net {

using std::chrono::nanoseconds;

bool Shard::Loop::KeepInput(Connection& c, std::uint32_t slot, const char* data, std::size_t len) {
  if (c.in == nullptr) {
    if ((c.in = in_pool_->Acquire()) == nullptr) {
      shard_.metrics_.buffer_exhausted.Add();
      Kill(c, slot);
      return false;
    }
    c.in_cap = static_cast<std::uint32_t>(in_pool_->bytes());
  }
  if (c.in_len + len > c.in_cap) {
    if (c.in_cap < big_in_pool_->bytes() && c.in_len + len <= big_in_pool_->bytes()) {
      // A deep pipeline: move to a big buffer (returned once the input is answered).
      char* big = big_in_pool_->Acquire();
      if (big == nullptr) {
        shard_.metrics_.buffer_exhausted.Add();
        Kill(c, slot);
        return false;
      }
      std::memcpy(big, c.in, c.in_len);
      in_pool_->Release(c.in);
      c.in = big;
      c.in_cap = static_cast<std::uint32_t>(big_in_pool_->bytes());
    } else {
      // More unanswered input than kMaxPendingInput: not a client reading its answers.
      shard_.metrics_.input_overflows.Add();
      Kill(c, slot);
      return false;
    }
  }
  std::memcpy(c.in + c.in_len, data, len);
  c.in_len += static_cast<std::uint32_t>(len);
  return true;
}

void Shard::Loop::ReleaseInput(Connection& c) {
  if (c.in == nullptr) return;
  (c.in_cap == in_pool_->bytes() ? in_pool_ : big_in_pool_)->Release(c.in);
  c.in = nullptr;
  c.in_cap = 0;
}

void Shard::Loop::DropInputIfEmpty(Connection& c) {
  if (c.in_len == 0) ReleaseInput(c);
}

void Shard::Loop::DropOutputIfEmpty(Connection& c) {
  if (c.out != nullptr && c.out_len == 0 && !c.send_in_flight) {
    out_pool_->Release(c.out);
    c.out = nullptr;
  }
}

void Shard::Loop::CloseIfDoneAfterEof(Connection& c, std::uint32_t slot) {
  if (!c.peer_eof || c.killing || c.send_in_flight || c.out_len > c.out_start || c.paused) {
    return;  // answers still to write or to send: FlushSends/OnSend call again
  }
  Kill(c, slot);
}

void Shard::Loop::OnData(Connection& c, std::uint32_t slot, const char* data, std::size_t len) {
  c.last_activity = now_;
  if (c.lingering || c.killing || c.close_after_send) return;  // our answer is final: discard
  if (c.in_len > 0 || c.paused) {
    if (!KeepInput(c, slot, data, len)) return;
    if (c.paused) return;
    // A head ends with CRLFCRLF: without a new LF nothing can complete, so a client trickling
    // a long head byte by byte does not make us re-parse it on every byte (the limits are
    // still enforced as soon as the input passes them).
    if (c.framer.done() && std::memchr(data, '\n', len) == nullptr &&
        c.in_len <= std::min(limits_->max_uri_bytes, limits_->max_header_bytes)) {
      return;
    }
    const std::size_t used = Drive(c, slot, c.in, c.in_len);
    c.in_len -= static_cast<std::uint32_t>(used);
    if (c.in_len > 0 && used > 0) std::memmove(c.in, c.in + used, c.in_len);
    DropInputIfEmpty(c);
    return;
  }
  // Zero-copy: parse straight out of the kernel's buffer; keep only an unfinished tail.
  const std::size_t used = Drive(c, slot, data, len);
  if (used < len && !c.killing) KeepInput(c, slot, data + used, len - used);
}

void Shard::Loop::Resume(Connection& c, std::uint32_t slot) {
  // The client read some answers: answer what waited, then listen again.
  c.paused = false;
  if (c.in_len > 0) {
    const std::size_t used = Drive(c, slot, c.in, c.in_len);
    c.in_len -= static_cast<std::uint32_t>(used);
    if (c.in_len > 0 && used > 0) std::memmove(c.in, c.in + used, c.in_len);
    DropInputIfEmpty(c);
  }
  if (!c.paused && c.recv_stopped) {
    c.recv_stopped = false;
    QueueRearm(c, slot);  // if the cancelled receive has not ended yet, OnRecv re-arms
  }
}

std::size_t Shard::Loop::Drive(Connection& c, std::uint32_t slot, const char* p, std::size_t n) {
  std::size_t off = 0;
  while (off < n) {
    if (c.close_after_send || c.killing) return n;
    if (!c.framer.done()) {
      const BodyFramer::Result r = c.framer.Feed(std::string_view(p + off, n - off));
      off += r.consumed;
      if (r.status == BodyFramer::Status::kError) {
        shard_.metrics_.body_errors.Add();
        AnswerError(c, slot, 400);
        return n;
      }
      if (r.status == BodyFramer::Status::kNeedMore) return n;
      continue;
    }
    if (c.out != nullptr && out_pool_->bytes() - c.out_len < max_response_) {
      // No room for another answer: stop until the client reads what we sent, and stop
      // reading from it meanwhile (TCP flow control then holds the rest in the client).
      c.paused = true;
      c.throttled = true;  // when reading resumes, one buffer at a time until caught up
      if (!c.recv_stopped) {
        c.recv_stopped = true;
        if (c.recv_armed) PauseRecv(c, slot);
      }
      return off;
    }
    const ParseResult r = ParseRequestHead(std::string_view(p + off, n - off), *limits_, *request_);
    if (r.status == ParseResult::Status::kPartial) {
      if (c.head_started == 0) c.head_started = now_;
      return off;
    }
    if (r.status == ParseResult::Status::kError) {
      shard_.metrics_.parse_errors[static_cast<std::size_t>(r.error)].Add();
      AnswerError(c, slot, StatusFor(r.error));
      return n;
    }
    // Only a complete head takes an output buffer: a head still arriving has nothing to
    // send, and slow heads must not hold the shard's output pool.
    if (c.out == nullptr && (c.out = out_pool_->Acquire()) == nullptr) {
      shard_.metrics_.buffer_exhausted.Add();
      Kill(c, slot);
      return n;
    }
    off += r.consumed;
    c.head_started = 0;
    Answer(c, slot);
    c.framer.Start(*request_);
  }
  return off;
}

void Shard::Loop::Answer(Connection& c, std::uint32_t slot) {
  const Runtime& rt = *runtime_;
  const HttpRequest& req = *request_;
  rt.policies->Evaluate(req, reinterpret_cast<const sockaddr*>(&c.peer), nanoseconds(now_),
                        scratch_, outcome_);
  ShardMetrics& m = shard_.metrics_;
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
    PolicyMetrics& pm = rt.metrics(shard_.options_.index, pr.policy);
    if (pr.missing_key) {
      pm.missing_key.Add();
      pm.denied.Add();
    } else if (pr.allowed) {
      pm.admitted.Add();
    } else if (pr.shadow) {
      pm.shadow_denied.Add();
    } else {
      pm.denied.Add();
    }
  }
  if (shard_.options_.log != nullptr && outcome_.matched && outcome_.reported >= 0) {
    LogDecision(c, req);
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
  MarkDirty(c, slot);
  if (!keep_alive) c.close_after_send = true;
}

void Shard::Loop::LogDecision(const Connection& c, const HttpRequest& req) {
  const Runtime& rt = *runtime_;
  bool log = !outcome_.allowed;
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
  rec.retry_after_ns = outcome_.decision.retry_after.count();
  const std::string& name = rt.policies->policy(static_cast<std::size_t>(outcome_.reported)).name;
  rec.policy_len = static_cast<std::uint8_t>(std::min(name.size(), sizeof rec.policy));
  std::memcpy(rec.policy, name.data(), rec.policy_len);
  rec.key_len = static_cast<std::uint8_t>(FormatKey(outcome_.key, rec.key, sizeof rec.key));
  if (c.peer.ss_family == AF_INET) {
    rec.family = AF_INET;
    std::memcpy(rec.address, &reinterpret_cast<const sockaddr_in&>(c.peer).sin_addr, 4);
  } else if (c.peer.ss_family == AF_INET6) {
    rec.family = AF_INET6;
    std::memcpy(rec.address, &reinterpret_cast<const sockaddr_in6&>(c.peer).sin6_addr, 16);
  }
  rec.forwarded_size = static_cast<std::uint8_t>(
      rt.policies->ForwardedClient(static_cast<std::size_t>(outcome_.reported), req,
                                   reinterpret_cast<const sockaddr*>(&c.peer), rec.forwarded));
  if (!shard_.options_.log->Push(shard_.options_.index, rec)) shard_.metrics_.log_dropped.Add();
}

void Shard::Loop::AnswerError(Connection& c, std::uint32_t slot, int status) {
  if (c.out == nullptr && (c.out = out_pool_->Acquire()) == nullptr) {
    shard_.metrics_.buffer_exhausted.Add();
    Kill(c, slot);
    return;
  }
  const std::size_t written = runtime_->responses->WriteError(status, date_, c.out + c.out_len,
                                                              out_pool_->bytes() - c.out_len);
  c.close_after_send = true;
  if (written == 0) {
    Kill(c, slot);  // no room left even for the error: the stream is unusable anyway
    return;
  }
  c.out_len += static_cast<std::uint32_t>(written);
  MarkDirty(c, slot);
}

}  // namespace sluice::net
