#include "ring_loop.h"

// The shard's io_uring loop (ring_loop.h): one submit-and-wait per pass, completions
// dispatched by operation, received bytes handed to the pipeline and its Effects applied.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ring_loop.h"

// Valgrind's client requests: a few no-op instructions natively, understood under valgrind.
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define SLUICE_HAVE_VALGRIND 1
#endif

namespace sluice::net {
namespace {

using std::chrono::nanoseconds;

// Under valgrind, the longest a pass may wait in io_uring_enter (see Run()).
constexpr std::int64_t kValgrindWaitNs = 10'000'000;

bool RunningOnValgrind() noexcept {
#ifdef SLUICE_HAVE_VALGRIND
  return RUNNING_ON_VALGRIND != 0;
#else
  return false;
#endif
}

// The kernel wrote `len` bytes at `p` (a provided receive buffer): memcheck cannot see writes
// the kernel makes from io_uring's async context, so it would call the received bytes
// uninitialised. Tell it they are defined. Nothing natively.
void KernelWrote(const char* p, std::size_t len) noexcept {
#ifdef SLUICE_HAVE_VALGRIND
  (void)VALGRIND_MAKE_MEM_DEFINED(p, len);
#else
  (void)p;
  (void)len;
#endif
}

std::int64_t MonotonicNs() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO: no syscall
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

Shard::Loop::Loop(Shard& shard)
    : shard_(shard),
      pipeline_(shard.metrics_, shard.options_.index, shard.options_.log, kRingBufferBytes,
                shard.options_.runtime->config.limits.max_connections_per_shard) {}

Shard::Loop::~Loop() {
  for (std::uint32_t i = 0; i < high_water_; ++i) {
    if (conns_[i].fd >= 0 && !conns_[i].direct) ::close(conns_[i].fd);
  }
  for (std::uint32_t i = 0; i < up_high_water_; ++i) {
    if (ups_[i].fd >= 0 && !ups_[i].direct) ::close(ups_[i].fd);
  }  // registered sockets close with the ring's file table
  if (ring_ready_) io_uring_queue_exit(&ring_);
  std::free(buf_ring_);
  std::free(buffers_);
}

absl::Status Shard::Loop::Init() {
  // Newest features first; each refusal (-EINVAL on older kernels) falls back one step.
  struct Attempt {
    unsigned flags;
    RingFeatures features;
  };
  const Attempt attempts[] = {
      {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, {true, true, false}},
      {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN, {true, false, true}},
      {IORING_SETUP_COOP_TASKRUN, {false, false, true}},
      {0, {false, false, false}},
  };
  int ret = -EINVAL;
  for (const Attempt& a : attempts) {
    io_uring_params params{};
    params.flags = a.flags | IORING_SETUP_CQSIZE;
    params.cq_entries = kCqEntries;
    ret = io_uring_queue_init_params(kSqEntries, &ring_, &params);
    if (ret == 0) {
      shard_.features_ = a.features;
      break;
    }
    if (ret != -EINVAL) break;
  }
  if (ret != 0) {
    return absl::UnavailableError(absl::StrCat("io_uring_queue_init: ", std::strerror(-ret)));
  }
  ring_ready_ = true;
  // The ring's own descriptor registered (kernel 5.18+): each io_uring_enter then skips the
  // descriptor lookup and reference. Refused on older kernels, which changes nothing else.
  (void)io_uring_register_ring_fd(&ring_);

  // The provided-buffer ring that multishot recv draws from (liburing 2.3: register by hand).
  const std::size_t ring_bytes = kRingBuffers * sizeof(io_uring_buf);
  if (posix_memalign(reinterpret_cast<void**>(&buf_ring_), 4096, ring_bytes) != 0 ||
      posix_memalign(reinterpret_cast<void**>(&buffers_), 4096,
                     std::size_t{kRingBuffers} * kRingBufferBytes) != 0) {
    return absl::ResourceExhaustedError("cannot allocate the receive buffer ring");
  }
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(buf_ring_);
  reg.ring_entries = kRingBuffers;
  reg.bgid = kBufferGroup;
  ret = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (ret != 0) {
    return absl::UnavailableError(
        absl::StrCat("io_uring_register_buf_ring: ", std::strerror(-ret)));
  }
  io_uring_buf_ring_init(buf_ring_);
  for (unsigned i = 0; i < kRingBuffers; ++i) {
    io_uring_buf_ring_add(buf_ring_, buffers_ + std::size_t{i} * kRingBufferBytes, kRingBufferBytes,
                          static_cast<unsigned short>(i), io_uring_buf_ring_mask(kRingBuffers),
                          static_cast<int>(i));
  }
  io_uring_buf_ring_advance(buf_ring_, kRingBuffers);

  const std::size_t max_conns = shard_.options_.runtime->config.limits.max_connections_per_shard;
  conns_.resize(max_conns);
  for (std::uint32_t i = 0; i < max_conns; ++i) conns_[i].next_free = i + 1;
  dirty_.reserve(max_conns);
  rearm_.reserve(max_conns);
  SwitchRuntime();
  return absl::OkStatus();
}

void Shard::Loop::SwitchRuntime() {
  const Runtime* next = nullptr;
  if (runtime_ == nullptr) next = shard_.options_.runtime;
  const Runtime* delivered = nullptr;
  while (shard_.inbox_.pop(delivered)) next = delivered;  // the newest wins
  if (next == nullptr) return;
  runtime_ = next;
  pipeline_.SetRuntime(*runtime_);
  SetupProxy();
  // Release: the control thread's acquire in generation() sees that we no longer use older
  // runtimes (every read of them happened before this store).
  shard_.generation_.store(runtime_->generation, std::memory_order_release);
}

io_uring_sqe* Shard::Loop::Sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // SQ full (a very busy pass): hand what we have to the kernel and take a fresh entry.
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  if (sqe == nullptr) std::abort();  // impossible after a submit: the SQ was just emptied
  return sqe;
}

void Shard::Loop::ArmAccept() {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_multishot_accept(sqe, shard_.options_.listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, UserData(Op::kAccept));
  accept_armed_ = true;
}

void Shard::Loop::ArmWake() {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_read(sqe, shard_.wake_fd_, &wake_value_, sizeof wake_value_, 0);
  io_uring_sqe_set_data64(sqe, UserData(Op::kWake));
}

void Shard::Loop::ArmRecv(Connection& c, std::uint32_t slot) {
  io_uring_sqe* sqe = Sqe();
  if (c.throttled) {
    io_uring_prep_recv(sqe, c.fd, nullptr, 0, 0);  // one buffer, then decide again
  } else {
    io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
  }
  OnClientSocket(sqe, c);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, UserData(Op::kRecv, slot, c.generation));
  c.recv_armed = true;
}

void Shard::Loop::Run() {
  // valgrind (3.19) runs one thread at a time under a global lock and does not know that
  // io_uring_enter can block: it holds the lock across the wait, so a shard waiting for
  // completions would starve every other thread of the process (the main thread never gets to
  // print its ports). Under valgrind only, each wait is short and the shard yields after it.
  const bool under_valgrind = RunningOnValgrind();
  ArmAccept();
  ArmWake();
  next_sweep_ = MonotonicNs() + kSweepNs;
  for (;;) {
    // The one syscall of a pass: submit what the last pass queued and wait for completions
    // (at most until the next sweep is due).
    std::int64_t wake_at = next_sweep_;
    if (!accept_armed_ && listener_open_ && !stopping_) {
      wake_at = std::min(wake_at, accept_backoff_until_);
    }
    const std::int64_t wait_ns = std::clamp<std::int64_t>(
        wake_at - now_, 1'000'000, under_valgrind ? kValgrindWaitNs : kSweepNs);
    __kernel_timespec ts{};
    ts.tv_sec = wait_ns / 1'000'000'000;
    ts.tv_nsec = wait_ns % 1'000'000'000;
    io_uring_cqe* first = nullptr;
    const int ret = io_uring_submit_and_wait_timeout(&ring_, &first, 1, &ts, nullptr);
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
      std::fprintf(stderr, "sluiced: shard %zu: io_uring wait failed: %s\n", shard_.options_.index,
                   std::strerror(-ret));
      std::abort();
    }
    if (under_valgrind) sched_yield();  // valgrind hands its lock to the other threads here

    // The clock, read once per pass: every decision of this pass uses it.
    now_ = MonotonicNs();
    pipeline_.Tick(now_, std::chrono::system_clock::now());
    shard_.metrics_.loop_passes.Add();

    if (!shard_.inbox_.empty()) SwitchRuntime();

    unsigned head;
    unsigned count = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      Handle(*cqe);
      ++count;
    }
    io_uring_cq_advance(&ring_, count);
    shard_.metrics_.completions.Add(count);
    if (pending_buffers_ > 0) {
      // Hand the buffers consumed this pass back to the kernel before re-arming receives.
      io_uring_buf_ring_advance(buf_ring_, static_cast<int>(pending_buffers_));
      pending_buffers_ = 0;
    }

    if (shard_.stop_.load(std::memory_order_relaxed) && !stopping_) BeginStop();
    if (now_ >= next_sweep_) {
      Sweep();
      next_sweep_ = now_ + kSweepNs;
    }
    for (const std::uint32_t slot : rearm_) {
      Connection& c = conns_[slot];
      c.rearm_queued = false;
      if (c.fd >= 0 && !c.recv_armed && !c.recv_stopped && !c.killing && !c.peer_eof) {
        ArmRecv(c, slot);
      }
    }
    rearm_.clear();
    if (!accept_armed_ && listener_open_ && !stopping_ && now_ >= accept_backoff_until_) {
      ArmAccept();
    }
    FlushUpSends();
    FlushSends();
    if (stopping_ && active_ == 0) {
      io_uring_submit(&ring_);  // the last closes and cancels queued this pass
      break;
    }
  }
}

Shard::Connection* Shard::Loop::Lookup(std::uint64_t ud) {
  const std::uint32_t slot = SlotOf(ud);
  if (slot >= conns_.size()) return nullptr;
  Connection& c = conns_[slot];
  if (c.fd < 0 || c.generation != GenOf(ud)) return nullptr;
  return &c;
}

void Shard::Loop::Handle(const io_uring_cqe& cqe) {
  const std::uint64_t ud = cqe.user_data;
  switch (OpOf(ud)) {
    case Op::kAccept:
      if (cqe.res >= 0) {
        OnAccept(cqe.res);
      } else if (cqe.res != -ECANCELED) {
        // EMFILE, ENFILE, ENOMEM...: expected under fd exhaustion. Back off, then re-arm.
        shard_.metrics_.accept_errors.Add();
        accept_backoff_until_ = now_ + kAcceptBackoffNs;
      }
      if (!(cqe.flags & IORING_CQE_F_MORE)) accept_armed_ = false;
      return;
    case Op::kRecv: {
      Connection* c = Lookup(ud);
      if (c != nullptr) {
        OnRecv(cqe, *c, SlotOf(ud));
      } else if (cqe.flags & IORING_CQE_F_BUFFER) {
        // A stale completion: its buffer still has to go back.
        RecycleBuffer(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
      }
      return;
    }
    case Op::kSend: {
      Connection* c = Lookup(ud);
      if (c != nullptr) OnSend(cqe.res, *c, SlotOf(ud));
      return;
    }
    case Op::kClose: {
      Connection* c = Lookup(ud);
      if (c != nullptr) Release(SlotOf(ud));
      return;
    }
    case Op::kWake:
      if (!stopping_ || active_ > 0) ArmWake();
      return;
    case Op::kShutdown: {
      Connection* c = Lookup(ud);
      if (c != nullptr) {
        c->shutdown_in_flight = false;
        MaybeFinishClose(*c, SlotOf(ud));
      }
      return;
    }
    case Op::kCloseRefused:
    case Op::kCancel:
      return;  // results of best-effort operations; the connection's own ops report the rest
    case Op::kUpConnect:
    case Op::kUpConnectTimeout:
    case Op::kUpSend:
    case Op::kUpRecv:
    case Op::kUpClose:
      HandleUpstream(cqe);
      return;
  }
  std::fprintf(stderr, "sluiced: unknown completion %llx\n", static_cast<unsigned long long>(ud));
  std::abort();
}

void Shard::Loop::OnAccept(int fd) {
  ShardMetrics& m = shard_.metrics_;
  if (stopping_ || free_head_ >= conns_.size()) {
    // Over the per-shard limit (or draining): refuse this one, keep serving everyone else.
    m.connections_refused.Add();
    if (stopping_) {
      ::close(fd);  // the loop may end this pass: do not leave it to a queued SQE
      return;
    }
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_close(sqe, fd);
    io_uring_sqe_set_data64(sqe, UserData(Op::kCloseRefused));
    return;
  }
  const std::uint32_t slot = free_head_;
  Connection& c = conns_[slot];
  free_head_ = c.next_free;
  high_water_ = std::max(high_water_, slot + 1);
  // rearm_queued and dirty stay as they are: the slot may still sit on this pass's lists.
  c.fd = fd;
  c.direct = false;
  c.recv_armed = c.recv_stopped = c.send_in_flight = c.peer_eof = false;
  c.lingering = c.killing = c.close_submitted = c.throttled = false;
  c.shutdown_in_flight = false;
  c.up = kNoUpstream;
  c.last_activity = c.last_send_progress = now_;
  pipeline_.Open(c.http, UserData(Op{}, slot, c.generation));
  // The peer address keys per-ip policies. A syscall per connection (multishot accept cannot
  // return addresses), never per request.
  socklen_t len = sizeof c.http.peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&c.http.peer), &len) != 0) {
    c.http.peer.ss_family = AF_UNSPEC;
  }
  // Into the registered table at the slot's own index (two more syscalls per connection, none
  // per request): its sends then skip the descriptor lookup, and the ordinary descriptor goes.
  if (slot < client_files_ &&
      io_uring_register_files_update(&ring_, client_files_base_ + slot, &fd, 1) == 1) {
    ::close(fd);
    c.fd = static_cast<int>(client_files_base_ + slot);
    c.direct = true;
  }
  ++active_;
  m.connections_accepted.Add();
  m.connections_open.Set(active_);
  ArmRecv(c, slot);
}

void Shard::Loop::RecycleBuffer(std::uint16_t bid) {
  io_uring_buf_ring_add(buf_ring_, buffers_ + std::size_t{bid} * kRingBufferBytes, kRingBufferBytes,
                        bid, io_uring_buf_ring_mask(kRingBuffers),
                        static_cast<int>(pending_buffers_));
  ++pending_buffers_;
}

void Shard::Loop::OnRecv(const io_uring_cqe& cqe, Connection& c, std::uint32_t slot) {
  if (!(cqe.flags & IORING_CQE_F_MORE)) c.recv_armed = false;
  if (cqe.res > 0) {
    const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    const char* data = buffers_ + std::size_t{bid} * kRingBufferBytes;
    KernelWrote(data, static_cast<std::size_t>(cqe.res));
    c.last_activity = now_;
    if (!c.lingering && !c.killing) {
      Apply(c, slot, pipeline_.Receive(c.http, data, static_cast<std::size_t>(cqe.res)));
    }
    RecycleBuffer(bid);
  } else {
    if (cqe.flags & IORING_CQE_F_BUFFER) {
      RecycleBuffer(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
    }
    if (cqe.res == 0) {
      // The client half-closed: it may still read. Answer what it sent, then close.
      c.peer_eof = true;
      if (c.http.relaying) {
        // ...unless it stopped inside a forwarded body: that request can never complete, so
        // its upstream connection is released now (not at the idle timeout).
        Kill(c, slot);
      }
      CloseIfDoneAfterEof(c, slot);
    } else if (cqe.res == -ENOBUFS) {
      // The buffer ring ran dry: buffers go back at the end of this pass, then we re-arm.
      shard_.metrics_.recv_enobufs.Add();
    } else if (cqe.res != -ECANCELED) {
      Kill(c, slot);  // reset or another error: this connection is over
    }
  }
  // Whatever ended a receive (a cancel whose pause is already over included), listen again if
  // the connection still wants to.
  if (!c.recv_armed) QueueRearm(c, slot);
  MaybeFinishClose(c, slot);
}

void Shard::Loop::QueueRearm(Connection& c, std::uint32_t slot) {
  if (c.fd < 0 || c.recv_armed || c.recv_stopped || c.killing || c.peer_eof || c.rearm_queued) {
    return;
  }
  c.rearm_queued = true;
  rearm_.push_back(slot);  // at most one entry per slot: never past reserve()
}

void Shard::Loop::MarkDirty(Connection& c, std::uint32_t slot) {
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(slot);
}

void Shard::Loop::FlushSends() {
  for (const std::uint32_t slot : dirty_) {
    Connection& c = conns_[slot];
    c.dirty = false;
    if (c.fd < 0 || c.killing || c.send_in_flight) continue;
    if (c.http.has_output()) {
      // Everything answered this pass goes out in one send: pipelined requests of one receive
      // share a single send.
      const std::string_view out = c.http.output();
      io_uring_sqe* sqe = Sqe();
      io_uring_prep_send(sqe, c.fd, out.data(), out.size(), MSG_NOSIGNAL);
      OnClientSocket(sqe, c);
      io_uring_sqe_set_data64(sqe, UserData(Op::kSend, slot, c.generation));
      c.send_in_flight = true;
    } else if (c.http.final && !c.lingering) {
      BeginLinger(c, slot);
    } else if (c.peer_eof) {
      CloseIfDoneAfterEof(c, slot);
    }
  }
  dirty_.clear();
}

void Shard::Loop::OnSend(int res, Connection& c, std::uint32_t slot) {
  c.send_in_flight = false;
  if (res < 0 || c.killing) {
    Kill(c, slot);  // EPIPE, ECONNRESET, ECANCELED: the client is gone or we are closing
    MaybeFinishClose(c, slot);
    return;
  }
  c.last_send_progress = now_;
  Apply(c, slot, pipeline_.Sent(c.http, static_cast<std::size_t>(res)));
  if (c.throttled && c.http.out == nullptr && c.http.in_len == 0) c.throttled = false;  // caught up
  ResumeRelay(c);  // a forwarded answer waiting for room in the output
  // A short send, or answers appended while it was in flight: send the rest (or close).
  MarkDirty(c, slot);
}

void Shard::Loop::Apply(Connection& c, std::uint32_t slot, const Effects& effects) {
  if (effects.send) MarkDirty(c, slot);
  if (effects.stop_reading) {
    c.throttled = true;  // when reading resumes, one buffer at a time until caught up
    if (!c.recv_stopped) {
      c.recv_stopped = true;
      if (c.recv_armed) PauseRecv(c, slot);
    }
  }
  if (effects.close) Kill(c, slot);
  if (effects.read_again && c.recv_stopped) {
    c.recv_stopped = false;
    QueueRearm(c, slot);  // if the cancelled receive has not ended yet, OnRecv re-arms
  }
}

void Shard::Loop::Complete(std::uint64_t stream_id, std::string_view answer, bool keep_alive) {
  const std::uint32_t slot = SlotOf(stream_id);
  Connection* c = Lookup(stream_id);
  if (c == nullptr || c->killing) return;  // the client left meanwhile
  Apply(*c, slot, pipeline_.Complete(c->http, answer, keep_alive));
}

}  // namespace sluice::net
