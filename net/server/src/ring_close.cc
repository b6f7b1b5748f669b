// Connection lifetimes on the ring: pausing a receive, the half-close and linger after a final
// answer, cancel-then-close, slot reuse, the timeout sweep and the graceful stop.
#include <unistd.h>

#include <chrono>

#include "ring_loop.h"

namespace sluice::net {

using std::chrono::nanoseconds;

void Shard::Loop::PauseRecv(Connection& c, std::uint32_t slot) {
  shard_.metrics_.recv_paused.Add();
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_cancel64(sqe, UserData(Op::kRecv, slot, c.generation), 0);
  io_uring_sqe_set_data64(sqe, UserData(Op::kCancel));
}

void Shard::Loop::BeginLinger(Connection& c, std::uint32_t slot) {
  // Half-close and read until the client closes too: closing with unread input would reset
  // the connection and could destroy our last answer before the client read it.
  c.lingering = true;
  c.linger_started = now_;
  if (!c.recv_armed) {
    Kill(c, slot);
    return;
  }
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_shutdown(sqe, c.fd, SHUT_WR);
  OnClientSocket(sqe, c);
  io_uring_sqe_set_data64(sqe, UserData(Op::kShutdown, slot, c.generation));
  c.shutdown_in_flight = true;
}

void Shard::Loop::Kill(Connection& c, std::uint32_t slot) {
  if (c.killing) return;
  c.killing = true;
  DetachClient(c);
  if (c.recv_armed) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_cancel64(sqe, UserData(Op::kRecv, slot, c.generation), 0);
    io_uring_sqe_set_data64(sqe, UserData(Op::kCancel));
  }
  if (c.send_in_flight) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_cancel64(sqe, UserData(Op::kSend, slot, c.generation), 0);
    io_uring_sqe_set_data64(sqe, UserData(Op::kCancel));
  }
  MaybeFinishClose(c, slot);
}

void Shard::Loop::MaybeFinishClose(Connection& c, std::uint32_t slot) {
  if (!c.killing || c.close_submitted || c.recv_armed || c.send_in_flight || c.shutdown_in_flight) {
    return;
  }
  // No operation of ours references the socket any more: close it through the ring.
  c.close_submitted = true;
  io_uring_sqe* sqe = Sqe();
  if (c.direct) {
    io_uring_prep_close_direct(sqe, static_cast<unsigned>(c.fd));  // frees the table entry
  } else {
    io_uring_prep_close(sqe, c.fd);
  }
  io_uring_sqe_set_data64(sqe, UserData(Op::kClose, slot, c.generation));
}

void Shard::Loop::CloseIfDoneAfterEof(Connection& c, std::uint32_t slot) {
  if (!c.peer_eof || c.killing || c.send_in_flight || !c.http.answered()) {
    return;  // answers still to write or to send: FlushSends/OnSend call again
  }
  Kill(c, slot);
}

void Shard::Loop::Release(std::uint32_t slot) {
  Connection& c = conns_[slot];
  DetachClient(c);
  pipeline_.Close(c.http);
  c.fd = -1;
  c.direct = false;
  ++c.generation;
  c.next_free = free_head_;
  free_head_ = slot;
  --active_;
  shard_.metrics_.connections_open.Set(active_);
}

void Shard::Loop::Sweep() {
  const ServerLimits& limits = runtime_->config.limits;
  const std::int64_t idle_ns = nanoseconds(limits.idle_timeout).count();
  const std::int64_t header_ns = nanoseconds(limits.header_timeout).count();
  const bool drain_over = stopping_ && now_ >= drain_deadline_;
  SweepUpstreams();
  for (std::uint32_t slot = 0; slot < high_water_; ++slot) {
    Connection& c = conns_[slot];
    if (c.fd < 0 || c.killing) continue;
    if (drain_over) {
      Kill(c, slot);
    } else if (c.lingering) {
      if (now_ - c.linger_started > kLingerNs) Kill(c, slot);
    } else if (c.http.has_output()) {
      // Output waiting: the client must keep reading.
      if (now_ - c.last_send_progress > idle_ns) {
        shard_.metrics_.idle_timeouts.Add();
        Kill(c, slot);
      }
    } else if (c.http.head_started != 0) {
      if (now_ - c.http.head_started > header_ns) {
        shard_.metrics_.header_timeouts.Add();  // slowloris, or a silent new connection
        Kill(c, slot);
      }
    } else if (c.http.awaiting && !stopping_) {
      // A forwarded request: the upstream's timeouts (ring_upstream.cc) govern the wait.
    } else if (now_ - c.last_activity > idle_ns || (stopping_ && c.http.between_requests())) {
      if (!stopping_) shard_.metrics_.idle_timeouts.Add();
      Kill(c, slot);
    }
  }
}

void Shard::Loop::BeginStop() {
  stopping_ = true;
  pipeline_.BeginStop();
  drain_deadline_ = now_ + kDrainNs;
  CloseIdleUpstreams();
  if (accept_armed_) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_cancel64(sqe, UserData(Op::kAccept), 0);
    io_uring_sqe_set_data64(sqe, UserData(Op::kCancel));
  }
  if (listener_open_) {
    // Stop taking connections now; the other shards' listeners are closing too.
    ::close(shard_.options_.listen_fd);
    listener_open_ = false;
  }
  // Idle keep-alive connections go now; the rest finish the request in hand (Sweep), answer
  // with "Connection: close", or are cut at the drain deadline.
  for (std::uint32_t slot = 0; slot < high_water_; ++slot) {
    Connection& c = conns_[slot];
    if (c.fd < 0 || c.killing) continue;
    const bool idle = !c.http.has_output() && c.http.in_len == 0 && c.http.framer.done() &&
                      !c.http.awaiting && !c.send_in_flight;
    if (idle) Kill(c, slot);
  }
}

}  // namespace sluice::net
