// Proxy mode's upstream sockets on the shard's ring (upstream_conn.h): the per-shard server
// table, pools and balancers of the plan in force; connect with a linked timeout, send,
// single-shot receives, cancel-then-close, the idle watch and the timeout sweep; the sockets
// sit in the ring's registered file table where it has room. What the bytes mean is
// ring_forward.cc's.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ring_loop.h"

namespace sluice::net {

using std::chrono::nanoseconds;

namespace {

std::int64_t Ns(std::chrono::milliseconds ms) noexcept { return nanoseconds(ms).count(); }

// An SQE on the socket of `u` (prepared with u.fd) names a registered file when it is one.
void OnSocket(io_uring_sqe* sqe, const UpstreamConn& u) noexcept {
  if (u.direct) sqe->flags |= IOSQE_FIXED_FILE;
}

}  // namespace

void Shard::Loop::SetupProxy() {
  const ProxyPlan* next = runtime_->proxy.get();
  // Every switch is a new plan (a reload builds one): the idle connections of the old one
  // close, and connections still busy under it are never pooled again (their epoch is older).
  CloseIdleUpstreams();
  plan_ = next;
  ++plan_epoch_;
  pipeline_.set_forwarder(next != nullptr ? this : nullptr);
  if (next == nullptr) return;
  servers_.clear();
  first_server_.clear();
  balancers_.assign(next->upstreams().size(), Balancer());
  for (std::size_t u = 0; u < next->upstreams().size(); ++u) {
    const PlanUpstream& pu = next->upstreams()[u];
    first_server_.push_back(static_cast<std::uint32_t>(servers_.size()));
    for (const UpstreamServer& server : pu.servers) {
      ServerSlot slot;
      slot.server = server;
      slot.upstream = static_cast<std::uint32_t>(u);
      slot.pool.Reset(pu.config.pool.idle_per_shard, pu.config.pool.max_requests,
                      Ns(pu.config.pool.idle_timeout));
      servers_.push_back(std::move(slot));
    }
    balancers_[u].Reset(pu.config.balance, pu.servers.size(), pu.config.eject_failures,
                        Ns(pu.config.eject_for),
                        (shard_.options_.index + 1) * 0x9E3779B97F4A7C15ULL ^ plan_epoch_);
  }
  if (ups_.empty()) {
    // The slot table is made once, never resized: exchanges hold pointers into their slot
    // (the relay's view of its extra fields). Every client connection can have one exchange,
    // and the pools keep idle ones besides.
    const std::size_t clients = runtime_->config.limits.max_connections_per_shard;
    const std::size_t size = std::min<std::size_t>(
        clients + std::min<std::size_t>(next->max_idle(), 65536), 0xffffffu - 1);
    ups_.resize(size);
    for (std::uint32_t i = 0; i < size; ++i) ups_[i].next_free = i + 1;
    up_dirty_.reserve(size);
    // The registered file table (kernel 5.19+: sparse): one entry per upstream slot, as far as
    // RLIMIT_NOFILE lets the kernel make it. Refused: every slot uses ordinary descriptors.
    // The client slots' entries follow (ring_loop.h).
    rlimit files{};
    std::size_t table = size + conns_.size();
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
      table = std::min<std::size_t>(table, files.rlim_cur);
    }
    table = std::min<std::size_t>(table, 0xffffffu);
    if (table > 0 && io_uring_register_files_sparse(&ring_, static_cast<unsigned>(table)) == 0) {
      up_files_ = static_cast<std::uint32_t>(std::min(table, size));
      client_files_base_ = static_cast<std::uint32_t>(size);
      client_files_ = static_cast<std::uint32_t>(table > size ? table - size : 0);
    }
    const std::size_t out_bytes =
        runtime_->config.limits.http.max_header_bytes + 2 * std::size_t{kRingBufferBytes};
    const std::size_t in_bytes = ResponseLimits{}.max_header_bytes + 2 * kRingBufferBytes;
    const std::size_t budget = kBufferBudgetBytes / 2;
    up_out_pool_ = std::make_unique<BufferPool>(out_bytes, std::min(size, budget / out_bytes));
    up_in_pool_ = std::make_unique<BufferPool>(in_bytes, std::min(size, budget / in_bytes));
    response_ = std::make_unique<HttpResponse>();
  }
}

UpstreamConn* Shard::Loop::LookupUp(std::uint64_t ud) {
  const std::uint32_t slot = SlotOf(ud);
  if (slot >= ups_.size()) return nullptr;
  UpstreamConn& u = ups_[slot];
  if (u.fd < 0 || u.generation != GenOf(ud)) return nullptr;
  return &u;
}

void Shard::Loop::HandleUpstream(const io_uring_cqe& cqe) {
  const std::uint64_t ud = cqe.user_data;
  UpstreamConn* u = LookupUp(ud);
  const std::uint32_t slot = SlotOf(ud);
  switch (OpOf(ud)) {
    case Op::kUpConnect:
      if (u != nullptr) OnUpConnect(cqe.res, *u, slot);
      return;
    case Op::kUpConnectTimeout:
      return;  // the connect's own completion says what happened (-ECANCELED: timed out)
    case Op::kUpSend:
      if (u != nullptr) OnUpSend(cqe.res, *u, slot);
      return;
    case Op::kUpRecv:
      if (u != nullptr) {
        OnUpRecv(cqe, *u, slot);
      } else if (cqe.flags & IORING_CQE_F_BUFFER) {
        RecycleBuffer(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
      }
      return;
    case Op::kUpClose:
      if (u != nullptr) ReleaseUp(slot);
      return;
    default:
      std::abort();  // Handle() dispatches only kUp* here
  }
}

std::uint32_t Shard::Loop::TakeUpstream(std::uint32_t server, bool& reused) {
  ServerSlot& s = servers_[server];
  std::uint32_t id = 0;
  if (s.pool.Pop(id)) {
    UpstreamConn& u = ups_[id];
    reused = true;
    u.state = UpstreamConn::State::kActive;
    shard_.metrics_.upstream_reused.Add();
    if (UpstreamMetrics* um = UpMetrics(s.upstream)) um->reused.Add();
    return id;
  }
  reused = false;
  if (up_free_ >= ups_.size()) return kNoUpstream;
  // A new connection costs two syscalls (socket, setsockopt) outside the ring: once per
  // connection, never per pooled request.
  const int fd =
      ::socket(s.server.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return kNoUpstream;
  const int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const std::uint32_t slot = up_free_;
  UpstreamConn& u = ups_[slot];
  up_free_ = u.next_free;
  up_high_water_ = std::max(up_high_water_, slot + 1);
  // Into the registered table at the slot's own index (two more syscalls per connection): the
  // table then holds the socket, and its ordinary descriptor is not needed any more.
  u.direct = slot < up_files_ && io_uring_register_files_update(&ring_, slot, &fd, 1) == 1;
  if (u.direct) ::close(fd);
  u.fd = u.direct ? static_cast<int>(slot) : fd;
  u.state = UpstreamConn::State::kConnecting;
  u.server = server;
  u.epoch = plan_epoch_;
  u.requests = 0;
  u.connect_in_flight = u.recv_armed = u.send_in_flight = u.close_submitted = false;
  u.address = s.server.address;
  u.address_len = s.server.address_len;
  const std::int64_t timeout_ns = Ns(plan_->upstreams()[s.upstream].config.timeouts.connect);
  u.connect_timeout.tv_sec = timeout_ns / 1'000'000'000;
  u.connect_timeout.tv_nsec = timeout_ns % 1'000'000'000;
  // The connect and its timeout are linked: if the timeout fires first the connect completes
  // with -ECANCELED (kernel 5.5+, so fine on 6.1). The pair must go into the SQ together.
  if (io_uring_sq_space_left(&ring_) < 2) io_uring_submit(&ring_);
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_connect(sqe, u.fd, reinterpret_cast<const sockaddr*>(&u.address), u.address_len);
  OnSocket(sqe, u);
  sqe->flags |= IOSQE_IO_LINK;
  io_uring_sqe_set_data64(sqe, UserData(Op::kUpConnect, slot, u.generation));
  sqe = Sqe();
  io_uring_prep_link_timeout(sqe, &u.connect_timeout, 0);
  io_uring_sqe_set_data64(sqe, UserData(Op::kUpConnectTimeout, slot, u.generation));
  u.connect_in_flight = true;
  shard_.metrics_.upstream_opened.Add();
  if (UpstreamMetrics* um = UpMetrics(s.upstream)) um->opened.Add();
  return slot;
}

void Shard::Loop::ArmUpRecv(UpstreamConn& u, std::uint32_t slot, bool idle) {
  if (u.recv_armed || u.state == UpstreamConn::State::kClosing) return;
  // Single-shot, one provided buffer: the next one is asked for only once the client has room
  // for what it brings (the back-pressure from a slow client).
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_recv(sqe, u.fd, nullptr, 0, 0);
  OnSocket(sqe, u);
  // Nothing can be waiting on an idle connection: skip the read that would only find the
  // socket empty and go straight to waiting for it (IORING_RECVSEND_POLL_FIRST: kernel 5.19).
  if (idle) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, UserData(Op::kUpRecv, slot, u.generation));
  u.recv_armed = true;
}

void Shard::Loop::MarkUpDirty(UpstreamConn& u, std::uint32_t slot) {
  if (u.dirty || u.holding) return;  // a held request is marked when its hold ends
  u.dirty = true;
  up_dirty_.push_back(slot);  // at most one entry per slot: never past reserve()
}

void Shard::Loop::FlushUpSends() {
  for (const std::uint32_t slot : up_dirty_) {
    UpstreamConn& u = ups_[slot];
    u.dirty = false;
    if (u.fd < 0 || u.state != UpstreamConn::State::kActive || u.send_in_flight ||
        u.out_sent >= u.out_len) {
      continue;
    }
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_send(sqe, u.fd, u.out + u.out_sent, u.out_len - u.out_sent, MSG_NOSIGNAL);
    OnSocket(sqe, u);
    io_uring_sqe_set_data64(sqe, UserData(Op::kUpSend, slot, u.generation));
    u.send_in_flight = true;
  }
  up_dirty_.clear();
}

void Shard::Loop::OnUpConnect(int res, UpstreamConn& u, std::uint32_t slot) {
  u.connect_in_flight = false;
  if (u.state == UpstreamConn::State::kClosing) {
    MaybeFinishUpClose(u, slot);
    return;
  }
  if (res < 0) {
    // -ECANCELED: the linked timeout fired (504); anything else (refused, unreachable): 502.
    const bool timed_out = res == -ECANCELED;
    (timed_out ? shard_.metrics_.upstream_connect_timeouts : shard_.metrics_.upstream_refused)
        .Add();
    FailExchange(u, slot, AttemptFailure::kConnect,
                 timed_out ? UpstreamCause::kConnectTimeout : UpstreamCause::kRefused);
    return;
  }
  u.state = UpstreamConn::State::kActive;
  ArmUpRecv(u, slot, true);  // an early answer (or a close) is noticed while we send
  MarkUpDirty(u, slot);
}

void Shard::Loop::OnUpSend(int res, UpstreamConn& u, std::uint32_t slot) {
  u.send_in_flight = false;
  if (u.state == UpstreamConn::State::kClosing) {
    MaybeFinishUpClose(u, slot);
    return;
  }
  if (res < 0) {
    shard_.metrics_.upstream_resets.Add();
    FailExchange(u, slot, AttemptFailure::kWrite, UpstreamCause::kReset);
    return;
  }
  u.wrote_any = true;
  u.out_sent += static_cast<std::uint32_t>(res);
  if (u.out_sent < u.out_len) {
    MarkUpDirty(u, slot);  // a short send: the rest next pass
    return;
  }
  if (u.has_body) {
    // Sent body bytes are not kept: a request whose body reached the upstream is never
    // replayed (retry.h), so the buffer starts over for the next piece.
    u.out_sent = u.out_len = 0;
  }
  Connection* c = ClientOf(u, slot);
  const bool body_done = !u.has_body || c == nullptr || c->body.done();
  if (body_done) {
    if (!u.request_sent && !u.relay.started()) u.deadline = now_ + u.header_timeout_ns;
    u.request_sent = true;
  } else {
    u.deadline = now_ + u.idle_timeout_ns;
    ResumeClientBody(u, slot);
  }
}

void Shard::Loop::OnUpRecv(const io_uring_cqe& cqe, UpstreamConn& u, std::uint32_t slot) {
  u.recv_armed = false;
  const bool has_buffer = (cqe.flags & IORING_CQE_F_BUFFER) != 0;
  const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
  if (u.state == UpstreamConn::State::kClosing) {
    if (has_buffer) RecycleBuffer(bid);
    MaybeFinishUpClose(u, slot);
    return;
  }
  if (u.state == UpstreamConn::State::kIdle) {
    // A pooled connection spoke: a FIN, a reset, or bytes nobody asked for. Either way it
    // can carry no request any more.
    if (has_buffer) RecycleBuffer(bid);
    if (cqe.res == -ENOBUFS) {
      ArmUpRecv(u, slot);
      return;
    }
    servers_[u.server].pool.Remove(slot);
    shard_.metrics_.upstream_idle_closed.Add();
    UpKill(u, slot);
    return;
  }
  if (cqe.res > 0) {
    const char* data = buffers_ + std::size_t{bid} * kRingBufferBytes;
    Relay(u, slot, data, static_cast<std::size_t>(cqe.res));
    RecycleBuffer(bid);
    return;
  }
  if (has_buffer) RecycleBuffer(bid);
  if (cqe.res == 0) {
    u.eof = true;
    Relay(u, slot, nullptr, 0);
  } else if (cqe.res == -ENOBUFS) {
    shard_.metrics_.recv_enobufs.Add();
    ArmUpRecv(u, slot);  // submitted after this pass handed the consumed buffers back
  } else {
    shard_.metrics_.upstream_resets.Add();
    FailExchange(u, slot, AttemptFailure::kClosed, UpstreamCause::kReset);
  }
}

void Shard::Loop::UpKill(UpstreamConn& u, std::uint32_t slot) {
  if (u.state == UpstreamConn::State::kClosing || u.fd < 0) return;
  u.state = UpstreamConn::State::kClosing;
  u.client = kNoClient;
  const auto cancel = [&](Op op) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_cancel64(sqe, UserData(op, slot, u.generation), 0);
    io_uring_sqe_set_data64(sqe, UserData(Op::kCancel));
  };
  if (u.connect_in_flight) cancel(Op::kUpConnect);
  if (u.recv_armed) cancel(Op::kUpRecv);
  if (u.send_in_flight) cancel(Op::kUpSend);
  MaybeFinishUpClose(u, slot);
}

void Shard::Loop::MaybeFinishUpClose(UpstreamConn& u, std::uint32_t slot) {
  if (u.state != UpstreamConn::State::kClosing || u.close_submitted || u.connect_in_flight ||
      u.recv_armed || u.send_in_flight) {
    return;
  }
  u.close_submitted = true;
  io_uring_sqe* sqe = Sqe();
  if (u.direct) {
    io_uring_prep_close_direct(sqe, static_cast<unsigned>(u.fd));  // frees the table entry
  } else {
    io_uring_prep_close(sqe, u.fd);
  }
  io_uring_sqe_set_data64(sqe, UserData(Op::kUpClose, slot, u.generation));
}

void Shard::Loop::ReleaseUp(std::uint32_t slot) {
  UpstreamConn& u = ups_[slot];
  if (u.out != nullptr) up_out_pool_->Release(u.out);
  if (u.in != nullptr) up_in_pool_->Release(u.in);
  u.out = u.in = nullptr;
  u.out_len = u.out_sent = u.in_len = 0;
  u.fd = -1;
  u.direct = false;
  u.state = UpstreamConn::State::kFree;
  ++u.generation;
  u.next_free = up_free_;
  up_free_ = slot;
  shard_.metrics_.upstream_closed.Add();
}

void Shard::Loop::PoolOrClose(UpstreamConn& u, std::uint32_t slot, bool reusable) {
  // A pooled connection holds no buffers. (No send is in flight: the request was all sent.)
  if (!u.send_in_flight) {
    if (u.out != nullptr) up_out_pool_->Release(u.out);
    u.out = nullptr;
    u.out_len = u.out_sent = 0;
  }
  if (u.in != nullptr) up_in_pool_->Release(u.in);
  u.in = nullptr;
  u.in_len = 0;
  u.client = kNoClient;
  if (reusable && !u.send_in_flight && u.epoch == plan_epoch_ && !stopping_ &&
      u.server < servers_.size() && servers_[u.server].pool.Reusable(u.requests) &&
      servers_[u.server].pool.Push(slot, now_)) {
    u.state = UpstreamConn::State::kIdle;
    u.deadline = 0;
    ArmUpRecv(u, slot, true);  // the idle watch: the upstream's FIN closes it at once
    return;
  }
  UpKill(u, slot);
}

void Shard::Loop::CloseIdleUpstreams() {
  for (ServerSlot& s : servers_) {
    std::uint32_t id = 0;
    while (s.pool.Pop(id)) UpKill(ups_[id], id);
  }
}

UpstreamMetrics* Shard::Loop::UpMetrics(std::uint32_t upstream) noexcept {
  if (upstream >= runtime_->upstream_count) return nullptr;
  return &runtime_->upstream(shard_.options_.index, upstream);
}

void Shard::Loop::SweepUpstreams() {
  for (ServerSlot& s : servers_) {
    std::uint32_t id = 0;
    while (s.pool.PopExpired(now_, id)) {
      shard_.metrics_.upstream_idle_expired.Add();
      UpKill(ups_[id], id);
    }
  }
  for (std::uint32_t slot = 0; slot < up_high_water_; ++slot) {
    UpstreamConn& u = ups_[slot];
    if (u.state != UpstreamConn::State::kActive || u.deadline == 0 || u.waiting_room ||
        now_ <= u.deadline) {
      continue;
    }
    shard_.metrics_.upstream_timeouts.Add();
    FailExchange(u, slot, AttemptFailure::kTimeout, UpstreamCause::kTimeout);
  }
  // The pool gauges, sampled here (every sweep) rather than kept exact on every change.
  if (plan_ == nullptr || runtime_->upstream_count != plan_->upstreams().size()) return;
  for (std::uint32_t up = 0; up < runtime_->upstream_count; ++up) {
    std::uint64_t idle = 0;
    const std::uint32_t end = up + 1 < first_server_.size()
                                  ? first_server_[up + 1]
                                  : static_cast<std::uint32_t>(servers_.size());
    for (std::uint32_t s = first_server_[up]; s < end; ++s) idle += servers_[s].pool.size();
    UpMetrics(up)->idle.Set(idle);
    UpMetrics(up)->active.Set(0);
  }
  for (std::uint32_t slot = 0; slot < up_high_water_; ++slot) {
    const UpstreamConn& u = ups_[slot];
    const bool busy =
        u.state == UpstreamConn::State::kActive || u.state == UpstreamConn::State::kConnecting;
    if (busy && u.epoch == plan_epoch_ && u.upstream < runtime_->upstream_count) {
      UpstreamMetrics& um = *UpMetrics(u.upstream);
      um.active.Set(um.active.Get() + 1);
    }
  }
}

}  // namespace sluice::net
